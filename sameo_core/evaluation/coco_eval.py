"""Class-agnostic COCO mask evaluation of amodal predictions (the SAMEO protocol).

As the authors' ``coco_eval_new.py``: standard pycocotools, ``COCOeval(gt, dt, 'segm')`` with
``params.useCats = 0`` and default parameters (IoU .50:.05:.95, maxDets 1/10/100, GT ``area``).
AR is AR@100 = ``stats[8]`` (the notes' recommendation; the public code records no AR).

Ground truth of any schema is read by the dataset readers (``load_gt("kins:instances_val.json")``,
``cocoa``, ``cocoa_cls``, ``d2sa``, ``kins2020``, ``walt``, ``amodal_coco``; a plain path is an
amodal-COCO file), so amodal masks, visible masks and occlusion rates mean the same for every
dataset. A GT without visible masks (``coco_instances:PATH``: its masks are taken as amodal) is
scored on all instances only: occluded / unoccluded subsets and visible-box prompts refuse it.

Subsets (occluded / unoccluded, split by the GT occlusion rate > 0, Table 1's POI definition),
two methods:

- ``ignore`` (ours, the default): the GT of the other subset is marked ``iscrowd = 1``, which
  pycocotools treats as *ignore* regions: a prediction of an other-subset object is neither a
  hit nor a false positive, and recall counts only subset objects.
- ``separate`` (the authors' code, which scores ``*_occ.json`` / ``*_unocc.json`` GT files): the
  GT of the other subset is removed, so a prediction of an other-subset object is a false
  positive. Subset figures comparable with the authors' use this method. The paper's Tables 2-5
  report all instances only, where both methods are the same.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sameo_core.data.read_report import ReadResult
from sameo_core.data.registry import READERS, has_visible_masks, read_dataset

SUBSETS = ("all", "occluded", "unoccluded")
SUBSET_METHODS = ("ignore", "separate")
STAT_KEYS = {"AP": 0, "AP50": 1, "AP75": 2, "AR100": 8}


class NoVisibleMasksError(ValueError):
    """An evaluation needs visible masks (modal prompts, occlusion subsets) the GT lacks."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs visible masks, and this GT has none (occlusion rates and modal boxes "
            "would be guesses): use a GT format with visible masks, or evaluate all instances "
            "with amodal-box prompts or given results only (--subsets none)"
        )


def gt_spec(spec: str | Path) -> tuple[str, Path]:
    """``FORMAT:PATH`` → (format, path); a plain path is an amodal-COCO file."""
    fmt, sep, rest = str(spec).partition(":")
    if sep and fmt in READERS:
        return fmt, Path(rest)
    return "amodal_coco", Path(spec)


def load_gt(spec: str | Path, image_root: str | Path | None = None) -> dict[str, Any]:
    """Evaluation GT from ``FORMAT:PATH`` (or an amodal-COCO path), read by our readers.

    Image paths are resolved (``image_root``, default: each reader's) and made absolute in
    ``file_name``. ``gt["read_report"]`` says what the reader dropped or repaired.
    """
    fmt, path = gt_spec(spec)
    if not path.exists():
        raise FileNotFoundError(f"GT file {path} does not exist")
    result = read_dataset(fmt, path, image_root)
    if not result.records:
        hint = (f"; an amodal GT without visible masks reads as coco_instances:{path}"
                if fmt == "amodal_coco" and result.report.bad else "")  # fmt: skip
        raise ValueError(f"GT {fmt}:{path} holds no usable annotation "
                         f"({' '.join(result.report.summary().split())}){hint}")  # fmt: skip
    return gt_from_read_result(result, has_visible_masks(fmt))


def gt_from_read_result(result: ReadResult, visible: bool = True) -> dict[str, Any]:
    """A COCO GT dict of a reader's records (all listed images, annotation ids kept when they
    are unique integers, else numbered from 1); ``visible=False``: no visible masks."""
    records = result.records
    ids = [r.annotation_id for r in records]
    keep_ids = all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    annotations = []
    for number, rec in enumerate(records, 1):
        ann = {"id": rec.annotation_id if keep_ids else number, "image_id": rec.image_id,
               "category_id": 1 if rec.category_id is None else rec.category_id,
               "segmentation": rec.amodal_rle, "bbox": list(rec.amodal_box), "iscrowd": 0,
               "source_id": rec.annotation_id}  # fmt: skip
        if visible:
            ann["visible_mask"] = rec.visible_rle
        annotations.append(ann)
    names = {r.category_id: r.category_name for r in records if r.category_id is not None}
    images = [{"id": i.image_id, "file_name": os.path.abspath(i.path), "height": i.height,
               "width": i.width} for i in result.images]  # fmt: skip
    report = result.report
    data = {"images": images, "annotations": annotations,
            "categories": [{"id": i, "name": str(names[i] or i)} for i in sorted(names)],
            "read_report": {"format": report.dataset, "dropped": dict(report.bad),
                            "repaired": dict(report.repaired)}}  # fmt: skip
    return prepare_gt(data)


def prepare_gt(data: dict[str, Any]) -> dict[str, Any]:
    """Fill what COCOeval needs (``iscrowd``, ``area``, ``categories``), the ``occlusion`` of
    each annotation (None without a visible mask) and ``visible_masks`` (every annotation has
    one)."""
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
    data["visible_masks"] = all(a["occlusion"] is not None for a in data["annotations"])
    return data


def to_rle(segm: Any, height: int, width: int) -> dict[str, Any]:
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    if isinstance(segm, dict) and isinstance(segm.get("counts"), list):
        return mask_utils.frPyObjects(segm, height, width)
    return segm


def occlusion_rate(
    ann: dict[str, Any], amodal: dict[str, Any], height: int, width: int
) -> float | None:
    """1 - |visible ∩ amodal| / |amodal| from the masks (as the readers compute it), None when
    the annotation has no visible mask."""
    if "visible_mask" not in ann:
        return None
    visible = to_rle(ann["visible_mask"], height, width)
    amodal_area = float(mask_utils.area(amodal))
    inside = float(mask_utils.area(mask_utils.merge([visible, amodal], intersect=True)))
    return 1.0 - inside / amodal_area if amodal_area else 0.0


def in_subset(ann: dict[str, Any], subset: str) -> bool:
    """Whether a prepared GT annotation belongs to ``subset`` (occluded: occlusion > 0)."""
    if subset == "all":
        return True
    if ann["occlusion"] is None:
        raise NoVisibleMasksError(f"the {subset} subset")
    return (ann["occlusion"] > 0) == (subset == "occluded")


def gt_subset(gt: dict[str, Any], subset: str, method: str = "ignore") -> dict[str, Any]:
    """The GT for ``subset``: the other annotations turned into ignore regions (``ignore``) or
    removed (``separate``, as the authors' subset GT files); see the module docstring."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if method not in SUBSET_METHODS:
        raise ValueError(f"subset method must be one of {SUBSET_METHODS}, got {method!r}")
    if subset == "all":
        return gt
    inside = [in_subset(a, subset) for a in gt["annotations"]]
    if method == "separate":
        return dict(gt, annotations=[a for a, keep in zip(gt["annotations"], inside) if keep])
    return dict(gt, annotations=[a if keep else dict(a, iscrowd=1)
                                 for a, keep in zip(gt["annotations"], inside)])  # fmt: skip


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
    gt: dict[str, Any], results: list[dict[str, Any]], subset: str = "all",
    method: str = "ignore",
) -> MaskEvalResult:
    """Class-agnostic segm COCOeval of ``results`` (COCO results with RLE ``segmentation``) on
    ``subset`` of the GT, split by ``method`` (``ignore`` or ``separate``)."""
    gt = gt_subset(gt, subset, method)
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
