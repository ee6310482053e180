"""Class-agnostic COCO mask evaluation of amodal predictions (the SAMEO protocol).

As the authors' ``coco_eval_new.py``: standard pycocotools, ``COCOeval(gt, dt, 'segm')`` with
``params.useCats = 0`` and default parameters (IoU .50:.05:.95, maxDets 1/10/100, GT ``area``).
AR is AR@100 = ``stats[8]`` (the notes' recommendation; the public code records no AR).

Subsets (occluded / unoccluded, split by the GT occlusion rate): the GT of the other subset is
marked ``iscrowd = 1``, which pycocotools treats as *ignore* regions: a prediction of an
other-subset object is neither a hit nor a false positive, and recall counts only subset objects.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

SUBSETS = ("all", "occluded", "unoccluded")
STAT_KEYS = {"AP": 0, "AP50": 1, "AP75": 2, "AR100": 8}


def load_gt(path: str | Path) -> dict[str, Any]:
    """Read an amodal-COCO GT file (``segmentation`` amodal, optional ``visible_mask``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GT file {path} does not exist")
    data = json.loads(path.read_text())
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{path}: not a COCO file (no '{key}' list)")
    return prepare_gt(data)


def prepare_gt(data: dict[str, Any]) -> dict[str, Any]:
    """Fill what COCOeval needs (``iscrowd``, ``area``, ``categories``) and ``occlusion``."""
    data = copy.deepcopy(data)
    images = {img["id"]: img for img in data["images"]}
    for ann in data["annotations"]:
        if ann.get("image_id") not in images:
            raise ValueError(f"annotation {ann.get('id')} refers to an unknown image")
        img = images[ann["image_id"]]
        amodal = to_rle(ann["segmentation"], img["height"], img["width"])
        ann.setdefault("iscrowd", 0)
        ann.setdefault("category_id", 1)
        ann.setdefault("area", float(mask_utils.area(amodal)))
        ann["occlusion"] = occlusion_rate(ann, amodal, img["height"], img["width"])
    if not data.get("categories"):
        ids = sorted({ann["category_id"] for ann in data["annotations"]}) or [1]
        data["categories"] = [{"id": i, "name": str(i)} for i in ids]
    return data


def to_rle(segm: Any, height: int, width: int) -> dict[str, Any]:
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    if isinstance(segm, dict) and isinstance(segm.get("counts"), list):
        return mask_utils.frPyObjects(segm, height, width)
    return segm


def occlusion_rate(ann: dict[str, Any], amodal: dict[str, Any], height: int, width: int) -> float:
    """``occlude_rate`` if given, else 1 - |visible| / |amodal| (0 when no visible mask)."""
    if "occlude_rate" in ann:
        return float(ann["occlude_rate"])
    if "visible_mask" not in ann:
        return 0.0
    visible = to_rle(ann["visible_mask"], height, width)
    amodal_area = float(mask_utils.area(amodal))
    return 1.0 - float(mask_utils.area(visible)) / amodal_area if amodal_area else 0.0


def gt_subset(gt: dict[str, Any], subset: str) -> dict[str, Any]:
    """The GT with the annotations outside ``subset`` turned into ignore regions."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if subset == "all":
        return gt
    keep_occluded = subset == "occluded"
    out = dict(gt, annotations=[dict(a) for a in gt["annotations"]])
    for ann in out["annotations"]:
        if (ann["occlusion"] > 0) != keep_occluded:
            ann["iscrowd"] = 1
    return out


def quiet_coco(data: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@dataclass
class MaskEvalResult:
    stats: dict[str, float]
    precision: np.ndarray = field(repr=False)  # [T=10, R=101] at area "all", maxDets 100
    recall_thresholds: np.ndarray = field(repr=False)


def evaluate_masks(
    gt: dict[str, Any], results: list[dict[str, Any]], subset: str = "all"
) -> MaskEvalResult:
    """Class-agnostic segm COCOeval of ``results`` (COCO results with RLE ``segmentation``)."""
    gt = gt_subset(gt, subset)
    known = {img["id"] for img in gt["images"]}
    unknown = {r["image_id"] for r in results} - known
    if unknown:
        raise ValueError(f"results refer to images not in the GT: {sorted(unknown)[:5]}")
    if not results:
        zeros = np.zeros((10, 101))
        return MaskEvalResult({k: 0.0 for k in STAT_KEYS}, zeros, np.linspace(0, 1, 101))
    coco_gt = quiet_coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(_with_known_categories(results, coco_gt.getCatIds()))
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.params.useCats = 0
        evaluator.params.imgIds = sorted(known)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = {k: float(evaluator.stats[i]) for k, i in STAT_KEYS.items()}
    precision = evaluator.eval["precision"][:, :, 0, 0, -1]
    return MaskEvalResult(stats, precision, np.asarray(evaluator.params.recThrs))


def _with_known_categories(results: list[dict[str, Any]], cat_ids: list[int]) -> list[dict]:
    """Copies of the results; a category unknown to the GT becomes its first category.

    With ``useCats = 0`` pycocotools still gathers detections per GT category id, so a result
    whose category the GT lacks would silently vanish (e.g. a detector's own class ids).
    """
    known = set(cat_ids)
    out = copy.deepcopy(results)
    for res in out:
        if res.get("category_id") not in known:
            res["category_id"] = cat_ids[0]
    return out


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """A COCO results JSON: a list of ``{image_id, segmentation (RLE), score}``."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: a COCO results file is a JSON list")
    for i, res in enumerate(data):
        missing = [k for k in ("image_id", "segmentation", "score") if k not in res]
        if missing:
            raise ValueError(f"{path}: result {i} lacks {missing}")
        res.setdefault("category_id", 1)
    return data
