"""COCO results from box prompts: SAMEO masks, or the two reference predictors.

Every result carries ``score`` (refined, ρ_front × ρ_ours, paper eq. 6), ``score_front``
(unrefined) and, for GT prompts, ``ann_id``, the annotation it was prompted from. Masks are
encoded as COCO RLE at the full image resolution, as in the authors' evaluation script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from sameo_core.data.images import read_image_rgb
from sameo_core.data.rle import encode
from sameo_core.evaluation.coco_eval import NoVisibleMasksError, to_rle
from sameo_core.evaluation.prompts import Prompt, by_image
from sameo_core.inference import AmodalPredictor

BASELINES = ("visible", "box-fill")


def _result(prompt: Prompt, mask: np.ndarray, iou_pred: float | None) -> dict[str, Any]:
    refined = prompt.score * iou_pred if iou_pred is not None else prompt.score
    out = {"image_id": prompt.image_id, "category_id": 1, "segmentation": encode(mask),
           "score": float(refined), "score_front": prompt.score}  # fmt: skip
    if iou_pred is not None:
        out["iou_pred"] = float(iou_pred)
    if prompt.ann_id is not None:
        out["ann_id"] = prompt.ann_id
    return out


def image_path(image: dict[str, Any], image_root: str | Path) -> Path:
    return Path(image_root) / image["file_name"]


def model_results(
    predictor: AmodalPredictor,
    gt: dict[str, Any],
    prompts: list[Prompt],
    image_root: str | Path,
    progress: Callable[[Iterator], Iterator] = iter,
) -> list[dict[str, Any]]:
    """Run SAMEO on every image that has prompts (the output with the best predicted IoU)."""
    images = {img["id"]: img for img in gt["images"]}
    results = []
    for image_id, group in progress(iter(by_image(prompts).items())):
        img = images[image_id]
        pixels = read_image_rgb(image_path(img, image_root))
        if pixels.shape[:2] != (img["height"], img["width"]):
            raise ValueError(f"image {image_id} is {pixels.shape[:2]}, the GT says "
                             f"{(img['height'], img['width'])}")  # fmt: skip
        predictor.set_image(pixels)
        boxes = np.array([p.box for p in group], dtype=np.float64)
        for out in predictor.predict(boxes).masks:
            mask = out.amodal.paste(img["height"], img["width"])
            results.append(_result(group[out.index], mask, out.iou))
    return results


def baseline_results(gt: dict[str, Any], prompts: list[Prompt], kind: str) -> list[dict]:
    """Reference predictors for GT prompts, scored by the front-end score (1 for GT prompts).

    ``visible``: the annotated visible mask taken as the amodal mask (no completion at all).
    ``box-fill``: the whole prompt box filled (what a box alone says about the object).
    """
    if kind not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")
    if kind == "visible" and not gt.get("visible_masks", True):
        raise NoVisibleMasksError("the visible-mask baseline")
    images = {img["id"]: img for img in gt["images"]}
    anns = {ann["id"]: ann for ann in gt["annotations"]}
    results = []
    for prompt in prompts:
        img = images[prompt.image_id]
        h, w = img["height"], img["width"]
        if kind == "visible":
            if prompt.ann_id is None:
                raise ValueError("the visible-mask baseline needs GT prompts")
            ann = anns[prompt.ann_id]
            mask = mask_utils.decode(to_rle(ann["visible_mask"], h, w))
        else:
            mask = np.zeros((h, w), np.uint8)
            x0, y0, x1, y1 = (int(round(v)) for v in prompt.box)
            mask[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)] = 1
        results.append(_result(prompt, mask.astype(bool), None))
    return results


def instance_ious(gt: dict[str, Any], results: list[dict[str, Any]]) -> dict[int, float]:
    """IoU of each GT-prompted result with the amodal GT of its annotation: {ann_id: IoU}."""
    images = {img["id"]: img for img in gt["images"]}
    anns = {ann["id"]: ann for ann in gt["annotations"]}
    ious = {}
    for res in results:
        if "ann_id" not in res:
            continue
        ann = anns[res["ann_id"]]
        img = images[ann["image_id"]]
        amodal = to_rle(ann["segmentation"], img["height"], img["width"])
        pred = dict(res["segmentation"], counts=res["segmentation"]["counts"].encode("ascii"))
        ious[res["ann_id"]] = float(mask_utils.iou([pred], [amodal], [0])[0, 0])
    return ious
