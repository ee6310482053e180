"""Which decoders a run trains: the amodal head (SAMEO), the modal head (visible masks), or both.

Both heads are trained with the same recipe (the same prompts, loss and weights, paper eq. 2-5):
the amodal head on the amodal GT masks, the modal head on the visible GT masks of the same
prompted instances. Their loss terms are summed; the modal head's terms carry the prefix
``modal_`` in the logs (``modal_loss_dice``, ...), the amodal head's keep their names.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sameo_core.model.sameo import HEADS, Head
from sameo_core.training.batches import InstanceBatch

HeadOutputs = dict[Head, tuple[Tensor, Tensor]]  # head → (logits [N, K, L, L], iou [N, K])
PREFIX: dict[Head, str] = {"amodal": "", "modal": "modal_"}


def check_heads(heads: Sequence[str]) -> tuple[Head, ...]:
    """The heads of a config, validated: a non-empty subset of ("amodal", "modal")."""
    unknown = [h for h in heads if h not in HEADS]
    if unknown or not heads or len(set(heads)) != len(heads):
        raise ValueError(f"model.heads must list distinct heads of {list(HEADS)}, got "
                         f"{list(heads)}")  # fmt: skip
    return tuple(h for h in HEADS if h in heads)  # type: ignore[misc]


def head_targets(batch: InstanceBatch, head: Head) -> Tensor:
    """The GT masks a head learns: amodal masks, or visible masks for the modal head."""
    return batch.targets if head == "amodal" else batch.visible_targets


def head_weights(weights: dict[str, float], heads: Sequence[Head]) -> dict[str, float]:
    """The loss weights of one head repeated for every trained head, under its prefix."""
    return {PREFIX[h] + key: w for h in heads for key, w in weights.items()}


def head_losses(criterion: torch.nn.Module, outputs: HeadOutputs, batch: InstanceBatch
                ) -> dict[str, Tensor]:  # fmt: skip
    """The criterion's terms of every head, on that head's targets, with its prefix (the other
    objects' masks go along for an overlap-weighted criterion)."""
    terms = {}
    for head, (logits, iou) in outputs.items():
        targets = head_targets(batch, head)
        for key, value in criterion(logits.float(), iou.float(), targets, batch.others).items():
            terms[PREFIX[head] + key] = value
    return terms
