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
  the rule reaches with perfect masks (it can only miss pairs whose overlap a third object hides).

Mean IoUs with the GT visible mask: the modal head's visible mask, the predicted amodal mask used
as the visible mask, and the spill order's visible masks; with the GT amodal mask: the predicted
amodal mask. Each over occluded (GT occlusion rate > 0), unoccluded and all prompted instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sameo_core.data.images import read_image_rgb
from sameo_core.data.records import ImageGroup, InstanceRecord
from sameo_core.evaluation.spill_order import spill_front_to_back, visible_from_order
from sameo_core.geometry import RoiMask, xywh_to_xyxy
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import OcclusionOrder, OrderConfig, occlusion_order

PromptKind = Literal["gt-modal", "gt-amodal"]
ORDER_METHODS = ("occlusion order", "spill order (old heuristic)", "occlusion order on GT masks")
MASK_ROWS = {
    "visible: modal head": "visible",
    "visible: amodal mask as visible": "visible",
    "visible: spill order (old heuristic)": "visible",
    "amodal: amodal head": "amodal",
}
SUBSETS = ("occluded", "unoccluded", "all")


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


def _iou(pred: RoiMask, truth: np.ndarray) -> float:
    full = pred.paste(*truth.shape)
    union = np.count_nonzero(full | truth)
    return float(np.count_nonzero(full & truth) / union) if union else 1.0


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

    def add_pairs(self, method: str, truth: dict[tuple[int, int], int],
                  decide: Callable[[int, int], int | None]) -> None:  # fmt: skip
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
                     "correct": self.correct[m]} for m in ORDER_METHODS}  # fmt: skip
        masks = {row: {s: {"mIoU": float(np.mean(v)) if v else float("nan"), "count": len(v)}
                       for s, v in subsets.items()}
                 for row, subsets in self.ious.items()}  # fmt: skip
        return {"pairs": self.pairs, "images": self.images, "order": order, "masks": masks,
                "unprompted_instances": self.unprompted,
                "pairs_left_out": self.pairs_unprompted}  # fmt: skip


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


def evaluate_image(
    predictor: AmodalPredictor, group: ImageGroup, kind: PromptKind, tally: OcclusionTally,
    order_config: OrderConfig | None = None,
) -> OcclusionOrder | None:
    """Add one image's pairs and IoUs to `tally`; returns the predicted order (None: no prompt)."""
    if not predictor.has_modal_head:
        raise ValueError("occlusion evaluation needs a network with a modal head")
    records = group.instances
    all_pairs = gt_front_pairs(records)
    keep, boxes = _prompted(group, kind)
    tally.images += 1
    tally.unprompted += len(records) - len(keep)
    local = {k: n for n, k in enumerate(keep)}
    truth = {(local[i], local[j]): local[f] for (i, j), f in all_pairs.items()
             if i in local and j in local}  # fmt: skip
    tally.pairs_unprompted += len(all_pairs) - len(truth)
    tally.pairs += len(truth)
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
    spill_visible = visible_from_order(amodal, spill, (group.height, group.width))
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
    return "\n".join(lines)


__all__ = ["ORDER_METHODS", "OcclusionTally", "evaluate_image", "evaluate_occlusion",
           "gt_front_pairs", "markdown", "spill_front"]
