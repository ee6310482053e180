"""SAMEO training losses (paper eq. 2-5): L = Dice + Focal + 0.05 * |IoU_pred - IoU|.

Pure functions with a ``reduction`` argument, plus :class:`SameoCriterion`, which returns the
named loss terms (DETR style) that the engine weights with ``weight_dict`` and logs one by one.

Decisions on points that neither the paper nor the authors' public evaluation code settles:

* Dice is computed per mask on sigmoid probabilities with +1 smoothing,
  ``1 - (2*sum(p*t) + 1) / (sum(p) + sum(t) + 1)`` (the standard form of eq. 3).
* Focal loss is torchvision's ``sigmoid_focal_loss`` with gamma = 2 (paper) and, by default,
  no alpha: eq. 4 is ``-(1 - p_t)^gamma log(p_t)``. An alpha (RetinaNet's 0.25, the
  torchvision/detectron2 default) can be given to compare with SAM-style fine-tuning recipes;
  it weights object pixels by alpha and background by 1 - alpha, so at p = 0.5 a missed object
  pixel gets a third of the gradient of a false-positive pixel, against completing hidden parts.
  The loss is averaged over the pixels of a mask.
* The IoU target is the IoU of the *binarised* prediction (logits > 0, the threshold used at
  inference) with the ground truth, at the resolution the loss is computed at, without gradient.
* Multimask supervision, option (a) of the notes: the decoder emits 3 masks; only the mask with
  the lowest *weighted* mask loss ``w_dice * Dice + w_focal * Focal`` (the weights the engine
  optimises, so the output chosen is the one that minimises the optimised loss) receives the
  mask loss (SAM's min-loss rule), while the IoU head is trained on all 3 outputs (its term is
  the same whichever output wins). At test time the output with the best *predicted* IoU is
  taken, as in the authors' evaluation script (``test_net_aissam_eff.py``), so the IoU head must
  rank all three outputs, not only the one that happened to win during training.
* Overlap weighting (ours, issue 18; off by default, the paper has none): with
  ``overlap_weight = λ > 0`` every pixel inside another object's amodal mask weighs 1 + λ in the
  Dice sums and in the focal mean of a mask (the focal term is normalised by the weights, so an
  object alone in its image has exactly the unweighted loss). Those pixels are where completion
  (amodal head: the hidden part) and the visible/hidden split (modal head: who is seen where two
  objects overlap) are decided, and a small share of the mask, so an unweighted loss barely
  trains them (BENCHMARKS.md, "Occlusion order on the model's own masks").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import sigmoid_focal_loss as _tv_sigmoid_focal_loss

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_pair(logits: Tensor, targets: Tensor) -> None:
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ")
    if logits.dim() < 2:
        raise ValueError(f"expected masks of shape [..., H, W], got {tuple(logits.shape)}")


def dice_loss(
    logits: Tensor, targets: Tensor, reduction: str = "mean", weights: Tensor | None = None
) -> Tensor:
    """Dice loss on sigmoid probabilities (paper eq. 3), one value per mask.

    Args:
        logits: ``[..., H, W]`` mask logits.
        targets: ``[..., H, W]`` ground truth in {0, 1} (float), same shape as ``logits``.
        reduction: ``'none'`` (shape ``[...]``), ``'mean'`` or ``'sum'``.
        weights: optional ``[..., H, W]`` per-pixel weights > 0 (broadcastable), applied to
            every sum: ``1 - (2 Σ w p t + 1) / (Σ w p + Σ w t + 1)``.
    """
    _check_pair(logits, targets)
    probs = logits.sigmoid().flatten(-2)
    targets = targets.to(probs.dtype).flatten(-2)
    if weights is not None:
        w = weights.to(probs.dtype).expand_as(logits).flatten(-2)
        probs_w, targets_w = probs * w, targets * w
    else:
        probs_w, targets_w = probs, targets
    numerator = 2 * (probs_w * targets).sum(-1) + 1
    denominator = probs_w.sum(-1) + targets_w.sum(-1) + 1
    return _reduce(1 - numerator / denominator, reduction)


def focal_loss(
    logits: Tensor,
    targets: Tensor,
    alpha: float | None = None,
    gamma: float = 2.0,
    reduction: str = "mean",
    weights: Tensor | None = None,
) -> Tensor:
    """Sigmoid focal loss (paper eq. 4, gamma = 2) averaged over the pixels of each mask.

    Args:
        logits: ``[..., H, W]`` mask logits.
        targets: ``[..., H, W]`` ground truth in {0, 1} (float).
        alpha: None (eq. 4, no class weight) or the weight of object pixels (background gets
            ``1 - alpha``), as torchvision's; a negative value also means none.
        gamma: focusing parameter.
        reduction: ``'none'`` (shape ``[...]``, one value per mask), ``'mean'`` or ``'sum'``.
        weights: optional ``[..., H, W]`` per-pixel weights > 0 (broadcastable): the weighted
            mean ``Σ w fl / Σ w`` replaces the mean.
    """
    _check_pair(logits, targets)
    per_pixel = _tv_sigmoid_focal_loss(
        logits.float(), targets.float(), alpha=-1.0 if alpha is None else alpha, gamma=gamma,
        reduction="none",
    )  # fmt: skip
    if weights is None:
        return _reduce(per_pixel.flatten(-2).mean(-1), reduction)
    w = weights.float().expand_as(per_pixel).flatten(-2)
    return _reduce((per_pixel.flatten(-2) * w).sum(-1) / w.sum(-1), reduction)


@torch.no_grad()
def mask_iou(logits: Tensor, targets: Tensor, threshold: float = 0.0) -> Tensor:
    """IoU of the binarised prediction ``logits > threshold`` with ``targets``, per mask ``[...]``.

    An empty prediction of an empty target counts as IoU 1.
    """
    _check_pair(logits, targets)
    pred = (logits > threshold).flatten(-2)
    gt = targets.flatten(-2) > 0.5
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def iou_loss(
    iou_pred: Tensor, logits: Tensor, targets: Tensor, reduction: str = "mean"
) -> Tensor:
    """L1 between the predicted IoU and the IoU of the thresholded prediction (paper eq. 5).

    Args:
        iou_pred: ``[...]`` raw IoU-head outputs.
        logits: ``[..., H, W]`` mask logits (the target is computed without gradient).
        targets: ``[..., H, W]`` ground truth in {0, 1}.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
    """
    target_iou = mask_iou(logits.detach(), targets)
    if iou_pred.shape != target_iou.shape:
        raise ValueError(f"iou_pred {tuple(iou_pred.shape)} != masks {tuple(target_iou.shape)}")
    return _reduce((iou_pred.float() - target_iou).abs(), reduction)


def resize_targets(targets: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize binary ``[N, H, W]`` masks to ``size`` by area averaging, re-binarised at 0.5."""
    if tuple(targets.shape[-2:]) == tuple(size):
        return targets.float()
    pooled = F.interpolate(targets[:, None].float(), size=size, mode="area")
    return (pooled[:, 0] >= 0.5).float()


PAPER_WEIGHTS: dict[str, float] = {"loss_dice": 1.0, "loss_focal": 1.0, "loss_iou": 0.05}


class SameoCriterion(nn.Module):
    """Returns the named loss terms of SAMEO for a batch of prompted instances.

    The engine sums ``loss_dict[k] * weight_dict[k]``; the paper's weights are
    ``{'loss_dice': 1, 'loss_focal': 1, 'loss_iou': 0.05}``. Give the criterion the same
    ``weight_dict``: it picks the supervised output by the weighted mask loss.
    """

    def __init__(
        self,
        focal_alpha: float | None = None,
        focal_gamma: float = 2.0,
        weight_dict: dict[str, float] | None = None,
        overlap_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if not (math.isfinite(overlap_weight) and overlap_weight >= 0):
            raise ValueError(f"overlap_weight must be finite and >= 0, got {overlap_weight}")
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.overlap_weight = overlap_weight
        weights = PAPER_WEIGHTS if weight_dict is None else weight_dict
        self.selection_weights = (weights.get("loss_dice", 0.0), weights.get("loss_focal", 0.0))

    def forward(
        self, logits: Tensor, iou_pred: Tensor, targets: Tensor, others: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Compute the loss terms.

        Args:
            logits: ``[N, K, h, w]`` mask logits of N instances with K outputs (K = 3 or 1).
            iou_pred: ``[N, K]`` predicted IoUs.
            targets: ``[N, H, W]`` binary amodal ground truth; resized to ``h x w`` if needed.
            others: ``[N, H, W]`` binary union of the amodal masks of the other objects of
                each instance's image (resized like ``targets``); their pixels weigh
                1 + ``overlap_weight`` (module docstring). Needed when overlap_weight > 0.

        Returns:
            ``loss_dice``, ``loss_focal``, ``loss_iou`` (scalars), plus ``iou`` (mean IoU of the
            supervised output, a metric without gradient).
        """
        if logits.dim() != 4 or iou_pred.shape != logits.shape[:2]:
            raise ValueError(
                f"expected logits [N,K,h,w] and iou_pred [N,K], got {tuple(logits.shape)} "
                f"and {tuple(iou_pred.shape)}"
            )
        targets = resize_targets(targets, tuple(logits.shape[-2:]))
        expanded = targets[:, None].expand_as(logits)
        weights = None
        if self.overlap_weight > 0:
            if others is None:
                raise ValueError("overlap_weight > 0 needs the other objects' masks (others)")
            others = resize_targets(others, tuple(logits.shape[-2:]))
            weights = (1 + self.overlap_weight * others)[:, None]
        dice = dice_loss(logits, expanded, reduction="none", weights=weights)
        focal = focal_loss(
            logits, expanded, self.focal_alpha, self.focal_gamma, reduction="none",
            weights=weights,
        )  # fmt: skip
        w_dice, w_focal = self.selection_weights
        # the output with the least weighted mask loss, per instance (SAM's min-loss rule)
        best = (w_dice * dice + w_focal * focal).detach().argmin(dim=1, keepdim=True)
        iou_terms = iou_loss(iou_pred, logits, expanded, reduction="none")
        return {
            "loss_dice": dice.gather(1, best).mean(),
            "loss_focal": focal.gather(1, best).mean(),
            "loss_iou": iou_terms.mean(),
            "iou": mask_iou(logits.detach(), expanded).gather(1, best).mean(),
        }


def weighted_total(loss_dict: dict[str, Tensor], weight_dict: dict[str, float]) -> Tensor:
    """``sum(loss_dict[k] * weight_dict[k])`` over the weighted terms (DETR's engine rule)."""
    missing = [k for k in weight_dict if k not in loss_dict]
    if missing:
        raise KeyError(f"loss terms {missing} are weighted but not computed")
    return sum(loss_dict[k] * w for k, w in weight_dict.items())
