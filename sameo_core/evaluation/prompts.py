"""Box prompts for evaluation: front-end detections, or the GT amodal / visible boxes.

A prompt is ``(image_id, xyxy box, front-end score, GT annotation id or None)``. GT prompts
carry score 1 and the id of the annotation they come from, which gives per-instance IoUs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from sameo_core.evaluation.coco_eval import NoVisibleMasksError, to_rle
from sameo_core.geometry import xywh_to_xyxy

PROMPT_KINDS = ("detections", "gt-amodal", "gt-modal")


@dataclass(frozen=True)
class Prompt:
    image_id: int
    box: tuple[float, float, float, float]  # xyxy pixels
    score: float  # front-end confidence ρ_front
    ann_id: int | None = None  # the GT annotation a GT prompt comes from


def gt_prompts(gt: dict[str, Any], kind: str) -> list[Prompt]:
    """One prompt per GT annotation: its amodal box (``bbox``) or its visible-mask box (a GT
    without visible masks is refused for those)."""
    if kind not in ("gt-amodal", "gt-modal"):
        raise ValueError(f"GT prompt kind must be gt-amodal or gt-modal, got {kind!r}")
    if kind == "gt-modal" and not all("visible_mask" in a for a in gt["annotations"]):
        raise NoVisibleMasksError("prompting with visible (modal) GT boxes")
    images = {img["id"]: img for img in gt["images"]}
    prompts = []
    for ann in gt["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        img = images[ann["image_id"]]
        if kind == "gt-amodal":
            amodal = to_rle(ann["segmentation"], img["height"], img["width"])
            box = ann.get("bbox") or mask_utils.toBbox(amodal).tolist()
        else:
            visible = to_rle(ann["visible_mask"], img["height"], img["width"])
            box = mask_utils.toBbox(visible).tolist()
        if box[2] <= 0 or box[3] <= 0:
            continue  # nothing visible: no modal box exists
        prompts.append(Prompt(ann["image_id"], tuple(xywh_to_xyxy(box).tolist()), 1.0, ann["id"]))
    return prompts


def detection_prompts(path: str | Path, gt: dict[str, Any]) -> list[Prompt]:
    """Prompts from a COCO detection results JSON (``image_id``, ``bbox`` xywh, ``score``)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: a COCO results file is a JSON list")
    known = {img["id"] for img in gt["images"]}
    prompts = []
    for i, det in enumerate(data):
        missing = [k for k in ("image_id", "bbox", "score") if k not in det]
        if missing:
            raise ValueError(f"{path}: detection {i} lacks {missing}")
        if det["image_id"] not in known:
            raise ValueError(f"{path}: detection {i} is on image {det['image_id']}, not in GT")
        box = tuple(xywh_to_xyxy(det["bbox"]).tolist())
        prompts.append(Prompt(det["image_id"], box, float(det["score"])))
    return prompts


def by_image(prompts: list[Prompt]) -> dict[int, list[Prompt]]:
    grouped: dict[int, list[Prompt]] = defaultdict(list)
    for prompt in prompts:
        grouped[prompt.image_id].append(prompt)
    return dict(grouped)
