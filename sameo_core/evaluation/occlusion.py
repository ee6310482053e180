"""Occlusion evaluation: pairwise order accuracy and visible-mask quality against a GT layer order.

The ground truth is a dataset whose records carry the true layer order (`InstanceRecord.
occluded_by`, written by our synthetic generators; README, "Data"). Every GT instance is prompted
with its visible box (what a modal detector gives) or its amodal box; an instance with nothing
visible has no visible box and is not prompted then (nor counted in pairs or mean IoUs).

Pairs: every two prompted instances of an image whose amodal masks overlap, i.e. one lists the
other in `occluded_by`. A method is right on a pair when it puts the true front object in front;
an undecided pair counts as wrong. Methods compared on the same predicted masks:

* `occlusion order`: `sameo_core.inference.occlusion_order` on the predicted amodal and visible
  masks (the modal head);
* `spill order (old heuristic)`: `sameo_core.evaluation.spill_order` on the predicted amodal masks
  and the prompt boxes, the front-to-back guess the ROS node made before there was a modal head;
* `occlusion order on GT masks`: the same rule on the GT amodal and visible masks, the accuracy
  the rule reaches with perfect masks (it can only miss pairs whose overlap a third object hides);
* `GT amodal + predicted visible masks` and `predicted amodal + GT visible masks`: the rule with
  one of the two heads replaced by the truth (visible := visible ∩ amodal, as the predictor does),
  which tells which head's errors cost the order.

With a network that has the optional order head (`sameo_core/model/order_head.py`), two more:

* `occlusion order + order head`: the rule with the head's scores as learned evidence
  (`OrderConfig.learned_weight`);
* `order head alone`: the sign of the head's score s(i, j) on each pair it scored (amodal boxes
  that overlap); a pair it did not score, or scored 0, is undecided.

Mean IoUs with the GT visible mask: the modal head's visible mask, the predicted amodal mask used
as the visible mask, and the spill order's visible masks; with the GT amodal mask: the predicted
amodal mask. Each over occluded (GT occlusion rate > 0), unoccluded and all prompted instances.

Where it fails (`overlap_breakdown`): over the true overlap O = A_front ∩ A_back of each GT pair
(GT amodal masks), the share of O that each object's predicted visible mask claims (truth: 1
for the front one, less only where a third object hides O; 0 for the back one) and that each
predicted amodal mask covers (truth: 1 for both), the share of pairs where the back object
claims more of O than the front one, and the *amodal bleed*: the share of the predicted overlap
Ô = Â_front ∩ Â_back, the pixels the rule decides on, that lies outside O (0 for GT masks);
each a mean over pairs (bleed over the pairs with a non-empty Ô, which `predicted overlap empty`
counts).

Mask-noise robustness (`noise_robustness`, no model): the rule on GT masks perturbed at random,
each amodal and each visible mask independently dilated or eroded (p = 0.5) by k px (a disk)
and shifted by up to k px in x and y, then visible := perturbed visible ∩ perturbed amodal, as
the predictor does; order accuracy against the visible and amodal mIoU of the perturbed masks
on occluded instances. It tells a rule that needs exact masks from masks that err in a way the
rule cannot survive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from sameo_core.data.images import read_image_rgb
from sameo_core.data.records import ImageGroup, InstanceRecord
from sameo_core.evaluation.spill_order import spill_front_to_back, visible_from_order
from sameo_core.geometry import RoiMask, xywh_to_xyxy
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import OcclusionOrder, OrderConfig, occlusion_order

PromptKind = Literal["gt-modal", "gt-amodal"]
ORDER_METHODS = ("occlusion order", "spill order (old heuristic)", "occlusion order on GT masks",
                 "GT amodal + predicted visible masks", "predicted amodal + GT visible masks")
MASK_ROWS = {
    "visible: modal head": "visible",
    "visible: amodal mask as visible": "visible",
    "visible: spill order (old heuristic)": "visible",
    "amodal: amodal head": "amodal",
}
LEARNED_METHODS = ("occlusion order + order head", "order head alone")
SUBSETS = ("occluded", "unoccluded", "all")
VISIBLE_ROW, AMODAL_ROW = "visible: modal head", "amodal: amodal head"
BREAKDOWN = (
    "front visible claims", "back visible claims", "back claims more",
    "front amodal covers", "back amodal covers", "predicted overlap empty", "amodal bleed",
)  # fmt: skip


def gt_front_pairs(records: Sequence[InstanceRecord]) -> dict[tuple[int, int], int]:
    """{(i, j): index of the front one} for i < j (indices into `records`, one image) whose
    amodal masks overlap, from the records' `occluded_by` annotation ids."""
    index = {rec.annotation_id: k for k, rec in enumerate(records)}
    pairs: dict[tuple[int, int], int] = {}
    for back, rec in enumerate(records):
        if rec.occluded_by is None:
            raise ValueError(
                f"annotation {rec.annotation_id} of image {rec.image_id} has no layer order "
                "(occluded_by); occlusion evaluation needs a GT that has one (training."
                "synthesize writes it)"
            )
        for ann_id in rec.occluded_by:
            if ann_id not in index:
                raise ValueError(f"annotation {rec.annotation_id}: occluded_by names {ann_id!r}, "
                                 f"not an annotation of image {rec.image_id}")  # fmt: skip
            front = index[ann_id]
            key = (min(front, back), max(front, back))
            if pairs.get(key, front) != front:
                raise ValueError(f"image {rec.image_id}: annotations {rec.annotation_id} and "
                                 f"{ann_id} each say the other is in front")  # fmt: skip
            pairs[key] = front
    return pairs


def _full_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(pred | truth)
    return float(np.count_nonzero(pred & truth) / union) if union else 1.0


def _iou(pred: RoiMask, truth: np.ndarray) -> float:
    return _full_iou(pred.paste(*truth.shape), truth)


def overlap_breakdown(
    amodal: Sequence[np.ndarray], visible: Sequence[np.ndarray], gt_amodal: Sequence[np.ndarray],
    truth: dict[tuple[int, int], int],
) -> list[dict[str, float]]:
    """Per GT pair of `truth` ({(i, j): front}), the shares of `BREAKDOWN` (module docstring) of
    full-image bool masks: predicted `amodal` and `visible`, and the GT amodal masks. A share
    that is undefined for a pair (bleed without a predicted overlap) is NaN."""
    rows = []
    for (i, j), front in truth.items():
        back = j if front == i else i
        true_overlap = gt_amodal[front] & gt_amodal[back]
        size = np.count_nonzero(true_overlap)
        if size == 0:
            continue  # layer order of masks that do not overlap (not written by our generators)

        def share(mask: np.ndarray, size: int = size, region: np.ndarray = true_overlap) -> float:
            return np.count_nonzero(mask & region) / size

        claims_front, claims_back = share(visible[front]), share(visible[back])
        predicted = amodal[front] & amodal[back]
        predicted_size = np.count_nonzero(predicted)
        bleed = (np.count_nonzero(predicted & ~true_overlap) / predicted_size
                 if predicted_size else float("nan"))  # fmt: skip
        rows.append(dict(zip(BREAKDOWN, (
            claims_front, claims_back, float(claims_back > claims_front),
            share(amodal[front]), share(amodal[back]), float(predicted_size == 0), bleed,
        ))))  # fmt: skip
    return rows


def perturb_mask(mask: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """`mask` dilated or eroded (p = 0.5) by a disk of radius k px, then shifted by integers
    drawn uniformly from [-k, k] in x and y (pixels shifted out of the image are lost); k = 0
    returns it unchanged."""
    if k < 0:
        raise ValueError(f"noise radius must be >= 0, got {k}")
    if k == 0:
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    op = cv2.dilate if rng.random() < 0.5 else cv2.erode
    grown = op(mask.astype(np.uint8), kernel).astype(bool)
    dx, dy = (int(v) for v in rng.integers(-k, k + 1, 2))
    h, w = mask.shape
    out = np.zeros_like(grown)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = \
        grown[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def noise_robustness(
    groups: Iterable[ImageGroup], radii: Sequence[int], kind: PromptKind = "gt-modal",
    seed: int = 0, order_config: OrderConfig | None = None,
) -> dict[str, Any]:
    """The occlusion order on perturbed GT masks (`perturb_mask`, module docstring), one row per
    noise radius k: accuracy and decided share over the GT pairs of the instances `kind` would
    prompt, and the occluded instances' visible and amodal mIoU. A JSON-ready dict."""
    groups = list(groups)
    rows = []
    for k in radii:
        rng = np.random.default_rng([seed, k])
        tally = OcclusionTally()
        for group in groups:
            keep, _ = _prompted(group, kind)
            truth = _local_truth(group, keep, tally)
            gt_amodal = [group.instances[n].amodal_mask.astype(bool) for n in keep]
            gt_visible = [group.instances[n].visible_mask.astype(bool) for n in keep]
            amodal = [perturb_mask(m, k, rng) for m in gt_amodal]
            visible = [perturb_mask(m, k, rng) & a for m, a in zip(gt_visible, amodal)]
            order = occlusion_order([RoiMask.from_full(m) for m in amodal],
                                    [RoiMask.from_full(m) for m in visible], config=order_config)
            tally.add_pairs(ORDER_METHODS[0], truth, order.front_of)
            for n, m in enumerate(keep):
                occluded = group.instances[m].is_occluded
                tally.add_iou(VISIBLE_ROW, occluded, _full_iou(visible[n], gt_visible[n]))
                tally.add_iou(AMODAL_ROW, occluded, _full_iou(amodal[n], gt_amodal[n]))
        summary = tally.summary()
        order = summary["order"][ORDER_METHODS[0]]
        masks = summary["masks"]
        rows.append({"k": k, "accuracy": order["accuracy"], "decided": order["decided"],
                     "visible_mIoU_occluded": masks[VISIBLE_ROW]["occluded"]["mIoU"],
                     "amodal_mIoU_occluded": masks[AMODAL_ROW]["occluded"]["mIoU"],
                     "pairs": summary["pairs"]})  # fmt: skip
    return {"prompts": kind, "seed": seed, "rows": rows}


def noise_markdown(result: dict[str, Any]) -> str:
    """The noise curve as a table."""
    lines = [f"Occlusion order on perturbed GT masks ({result['prompts']} instances, seed "
             f"{result['seed']}):", "",
             "| k (px) | order accuracy | decided | visible mIoU, occluded "
             "| amodal mIoU, occluded |", "|---|---|---|---|---|"]  # fmt: skip
    for r in result["rows"]:
        lines.append(f"| {r['k']} | {100 * r['accuracy']:.1f} % | {100 * r['decided']:.1f} % | "
                     f"{r['visible_mIoU_occluded']:.3f} | {r['amodal_mIoU_occluded']:.3f} |")
    return "\n".join(lines)


def _sign_front(scores: dict[tuple[int, int], float], i: int, j: int) -> int | None:
    """The front one of i < j by the sign of s(i, j) (None: not scored, or 0)."""
    score = scores.get((i, j), 0.0)
    return None if score == 0 else (i if score > 0 else j)


def spill_front(front_to_back: Sequence[int]) -> Callable[[int, int], int]:
    """The pairwise decision of a total front-to-back order: the earlier one is in front."""
    position = {k: p for p, k in enumerate(front_to_back)}
    return lambda i, j: i if position[i] < position[j] else j


@dataclass
class OcclusionTally:
    """Counts and IoUs accumulated over images."""

    pairs: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER_METHODS, 0))
    decided: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER_METHODS, 0))
    ious: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {row: {s: [] for s in SUBSETS} for row in MASK_ROWS})
    images: int = 0
    unprompted: int = 0  # GT instances without a prompt (nothing visible for a visible box)
    pairs_unprompted: int = 0  # GT pairs with an unprompted instance, left out
    breakdown: list[dict[str, float]] = field(default_factory=list)  # overlap_breakdown rows

    def add_pairs(self, method: str, truth: dict[tuple[int, int], int],
                  decide: Callable[[int, int], int | None]) -> None:  # fmt: skip
        self.decided.setdefault(method, 0)
        self.correct.setdefault(method, 0)
        for (i, j), front in truth.items():
            got = decide(i, j)
            self.decided[method] += got is not None
            self.correct[method] += got == front

    def add_iou(self, row: str, occluded: bool, value: float) -> None:
        self.ious[row]["occluded" if occluded else "unoccluded"].append(value)
        self.ious[row]["all"].append(value)

    def summary(self) -> dict[str, Any]:
        def share(count: int) -> float:
            return count / self.pairs if self.pairs else float("nan")

        order = {m: {"accuracy": share(self.correct[m]), "decided": share(self.decided[m]),
                     "correct": self.correct[m]} for m in self.correct}  # fmt: skip
        masks = {row: {s: {"mIoU": float(np.mean(v)) if v else float("nan"), "count": len(v)}
                       for s, v in subsets.items()}
                 for row, subsets in self.ious.items()}  # fmt: skip
        out = {"pairs": self.pairs, "images": self.images, "order": order, "masks": masks,
               "unprompted_instances": self.unprompted,
               "pairs_left_out": self.pairs_unprompted}  # fmt: skip
        if self.breakdown:
            out["overlap_breakdown"] = {
                key: float(np.nanmean([r[key] for r in self.breakdown]))
                if any(not np.isnan(r[key]) for r in self.breakdown) else float("nan")
                for key in BREAKDOWN} | {"pairs": len(self.breakdown)}  # fmt: skip
        return out


def _prompted(group: ImageGroup, kind: PromptKind) -> tuple[list[int], np.ndarray]:
    """Indices of the instances that get a prompt, and their xyxy prompt boxes."""
    keep, boxes = [], []
    for k, rec in enumerate(group.instances):
        box = rec.visible_box if kind == "gt-modal" else rec.amodal_box
        if box[2] <= 0 or box[3] <= 0:
            continue
        keep.append(k)
        boxes.append(box)
    return keep, xywh_to_xyxy(np.asarray(boxes, np.float64).reshape(-1, 4))


def _local_truth(group: ImageGroup, keep: list[int], tally: OcclusionTally
                 ) -> dict[tuple[int, int], int]:  # fmt: skip
    """The GT pairs of the prompted instances `keep`, in indices into `keep`; counts the image,
    its unprompted instances and the pairs left out in `tally`."""
    all_pairs = gt_front_pairs(group.instances)
    tally.images += 1
    tally.unprompted += len(group.instances) - len(keep)
    local = {k: n for n, k in enumerate(keep)}
    truth = {(local[i], local[j]): local[f] for (i, j), f in all_pairs.items()
             if i in local and j in local}  # fmt: skip
    tally.pairs_unprompted += len(all_pairs) - len(truth)
    tally.pairs += len(truth)
    return truth


def evaluate_image(
    predictor: AmodalPredictor, group: ImageGroup, kind: PromptKind, tally: OcclusionTally,
    order_config: OrderConfig | None = None,
) -> OcclusionOrder | None:
    """Add one image's pairs and IoUs to `tally`; returns the predicted order (None: no prompt)."""
    if not predictor.has_modal_head:
        raise ValueError("occlusion evaluation needs a network with a modal head")
    records = group.instances
    keep, boxes = _prompted(group, kind)
    truth = _local_truth(group, keep, tally)
    if not keep:
        return None
    image = read_image_rgb(group.image_path)
    if image.shape[:2] != (group.height, group.width):
        raise ValueError(f"{group.image_path} is {image.shape[1]}x{image.shape[0]}, the GT says "
                         f"{group.width}x{group.height}")  # fmt: skip
    predictor.set_image(image)
    prediction = predictor.predict(boxes)
    if len(prediction.masks) != len(keep):
        raise ValueError(f"image {group.image_id}: boxes rejected {prediction.rejected}")
    amodal = [m.amodal for m in prediction.masks]
    visible = [m.visible for m in prediction.masks]
    order = occlusion_order(amodal, visible, config=order_config)
    tally.add_pairs(ORDER_METHODS[0], truth, order.front_of)
    spill = spill_front_to_back(amodal, list(boxes))
    tally.add_pairs(ORDER_METHODS[1], truth, spill_front(spill))
    gt_amodal = [records[k].amodal_mask.astype(bool) for k in keep]
    gt_visible = [records[k].visible_mask.astype(bool) for k in keep]
    oracle = occlusion_order([RoiMask.from_full(m) for m in gt_amodal],
                             [RoiMask.from_full(m) for m in gt_visible], config=order_config)
    tally.add_pairs(ORDER_METHODS[2], truth, oracle.front_of)
    hw = (group.height, group.width)
    gt_rois = [RoiMask.from_full(m) for m in gt_amodal]
    mixed = occlusion_order(gt_rois, [RoiMask.from_full(v.paste(*hw) & a)
                                      for v, a in zip(visible, gt_amodal)], config=order_config)
    tally.add_pairs(ORDER_METHODS[3], truth, mixed.front_of)
    mixed = occlusion_order(amodal, [RoiMask.from_full(v & a.paste(*hw))
                                     for v, a in zip(gt_visible, amodal)], config=order_config)
    tally.add_pairs(ORDER_METHODS[4], truth, mixed.front_of)
    if getattr(predictor, "scores_order", False):
        learned = prediction.pair_order
        combined = occlusion_order(amodal, visible, config=order_config,
                                   learned_evidence=learned)  # fmt: skip
        tally.add_pairs(LEARNED_METHODS[0], truth, combined.front_of)
        tally.add_pairs(LEARNED_METHODS[1], truth, lambda i, j: _sign_front(learned, i, j))
    spill_visible = visible_from_order(amodal, spill, hw)
    tally.breakdown += overlap_breakdown([m.paste(*hw) for m in amodal],
                                         [m.paste(*hw) for m in visible], gt_amodal, truth)
    for n, k in enumerate(keep):
        occluded = records[k].is_occluded
        got = prediction.masks[n]
        tally.add_iou("visible: modal head", occluded, _iou(got.visible, gt_visible[n]))
        tally.add_iou("visible: amodal mask as visible", occluded, _iou(got.amodal, gt_visible[n]))
        tally.add_iou("visible: spill order (old heuristic)", occluded,
                      _iou(spill_visible[n], gt_visible[n]))
        tally.add_iou("amodal: amodal head", occluded, _iou(got.amodal, gt_amodal[n]))
    return order


def evaluate_occlusion(
    predictor: AmodalPredictor, groups: Iterable[ImageGroup], kind: PromptKind = "gt-modal",
    order_config: OrderConfig | None = None,
    progress: Callable[[Iterator], Iterator] = iter,
) -> dict[str, Any]:
    """Order accuracy and mean IoUs over `groups` (module docstring); a JSON-ready dict."""
    if kind not in ("gt-modal", "gt-amodal"):
        raise ValueError(f"prompt kind must be gt-modal or gt-amodal, got {kind!r}")
    tally = OcclusionTally()
    for group in progress(iter(groups)):
        evaluate_image(predictor, group, kind, tally, order_config)
    return {"prompts": kind, **tally.summary()}


def markdown(summary: dict[str, Any]) -> str:
    """Two tables: order accuracy per method, and mean IoU per mask and subset."""
    lines = [f"Pairwise occlusion order, {summary['pairs']} overlapping GT pairs in "
             f"{summary['images']} images ({summary['prompts']} prompts):", "",
             "| method | accuracy | decided |", "|---|---|---|"]  # fmt: skip
    for method, row in summary["order"].items():
        accuracy, decided = 100 * row["accuracy"], 100 * row["decided"]
        lines.append(f"| {method} | {accuracy:.1f} % | {decided:.1f} % |")
    lines += ["", "| mask (vs GT) | occluded mIoU | unoccluded mIoU | all mIoU |",
              "|---|---|---|---|"]  # fmt: skip
    for row, subsets in summary["masks"].items():
        cells = " | ".join(f"{subsets[s]['mIoU']:.3f} ({subsets[s]['count']})" for s in SUBSETS)
        lines.append(f"| {row} | {cells} |")
    breakdown = summary.get("overlap_breakdown")
    if breakdown:
        lines += ["", f"Over the true overlap of each GT pair ({breakdown['pairs']} pairs; "
                  "predicted masks):", "", "| " + " | ".join(BREAKDOWN) + " |",
                  "|" + "---|" * len(BREAKDOWN),
                  "| " + " | ".join(f"{breakdown[k]:.3f}" for k in BREAKDOWN) + " |"]  # fmt: skip
    return "\n".join(lines)


__all__ = ["BREAKDOWN", "LEARNED_METHODS", "ORDER_METHODS", "OcclusionTally", "evaluate_image",
           "evaluate_occlusion", "gt_front_pairs", "markdown", "noise_markdown",
           "noise_robustness", "overlap_breakdown", "perturb_mask", "spill_front"]
