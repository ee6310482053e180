"""One evaluation: results (given, or predicted from prompts) → metrics per subset and score.

The metrics dict has ``AP``, ``AP50``, ``AP75``, ``AR100`` at the top level (all instances,
refined scores when SAMEO predicted the masks), then ``occluded`` / ``unoccluded`` (same keys,
plus ``mIoU`` and ``count`` for GT prompts) and ``unrefined`` (the front-end score alone, Table 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sameo_core.evaluation.coco_eval import SUBSETS, MaskEvalResult, evaluate_masks, in_subset
from sameo_core.evaluation.predict import instance_ious


def _subset_ids(gt: dict[str, Any], subset: str) -> set[int]:
    return {a["id"] for a in gt["annotations"] if in_subset(a, subset)}


def _with_front_scores(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r, score=r["score_front"]) for r in results]


def evaluate_results(
    gt: dict[str, Any],
    results: list[dict[str, Any]],
    subsets: tuple[str, ...] = SUBSETS,
    method: str = "ignore",
) -> tuple[dict[str, Any], dict[str, MaskEvalResult]]:
    """Metrics of ``results`` on ``subsets`` (split by ``method``, see
    ``sameo_core.evaluation.coco_eval``) and the per-curve COCOeval results (for the PR plot)."""
    curves: dict[str, MaskEvalResult] = {}
    metrics: dict[str, Any] = {}
    ious = instance_ious(gt, results)
    refined = any("iou_pred" in r for r in results)
    for subset in subsets:
        curves[subset] = evaluate_masks(gt, results, subset, method)
        block: dict[str, Any] = dict(curves[subset].stats)
        if ious:
            ids = _subset_ids(gt, subset) & set(ious)
            block["mIoU"] = float(np.mean([ious[i] for i in ids])) if ids else float("nan")
            block["count"] = len(ids)
        if subset == "all":
            metrics.update(block)
        else:
            metrics[subset] = block
    if refined:
        unrefined = _with_front_scores(results)
        metrics["unrefined"] = {}
        for subset in subsets:
            result = evaluate_masks(gt, unrefined, subset, method)
            metrics["unrefined"][subset] = result.stats
            curves[f"{subset} (unrefined)"] = result
    metrics["num_results"] = len(results)
    return metrics, curves


def table_rows(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Rows for :func:`sameo_core.evaluation.tables.markdown_table`."""
    rows = {"all": metrics}
    rows.update({s: metrics[s] for s in SUBSETS[1:] if s in metrics})
    for subset, stats in metrics.get("unrefined", {}).items():
        rows[f"{subset}, unrefined score"] = stats
    return rows


def gt_prompt_validation(
    model: Any, gt: dict[str, Any], image_root: str | Path, max_images: int, device: Any
) -> dict[str, float]:
    """Periodic validation during training: AP and mean IoU of the first ``max_images`` GT
    images, prompted with the amodal and with the visible GT boxes."""
    from sameo_core.evaluation.predict import model_results
    from sameo_core.evaluation.prompts import gt_prompts
    from sameo_core.inference import AmodalPredictor

    keep = {img["id"] for img in gt["images"][:max_images]}
    subset = dict(gt, images=[i for i in gt["images"] if i["id"] in keep],
                  annotations=[a for a in gt["annotations"] if a["image_id"] in keep])  # fmt: skip
    predictor = AmodalPredictor(model, device=device)
    out: dict[str, float] = {}
    for kind in ("gt-amodal", "gt-modal"):
        results = model_results(predictor, subset, gt_prompts(subset, kind), image_root)
        metrics, _ = evaluate_results(subset, results)
        out[f"{kind}/AP"] = metrics["AP"]
        for name in SUBSETS[1:]:
            out[f"{kind}/mIoU_{name}"] = metrics[name].get("mIoU", float("nan"))
    return out
