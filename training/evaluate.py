"""Class-agnostic amodal mask evaluation (COCO AP, AP50, AP75, AR@100), as in the paper.

From a SAMEO model, prompted by front-end detections (a COCO results JSON with ``image_id``,
``bbox`` xywh and ``score``) or by GT boxes::

    python -m training.evaluate --gt GT.json --detections DETS.json --checkpoint CKPT \\
        [--variant vitt] [--image-root DIR] [--json OUT.json] [--plot PR.png]
    python -m training.evaluate --gt GT.json --prompts gt-modal --checkpoint CKPT

From masks already predicted (a COCO segm results JSON)::

    python -m training.evaluate --gt GT.json --results RESULTS.json

Reference predictors for GT prompts (no model): ``--baseline visible`` (the visible mask as
the amodal mask) and ``--baseline box-fill`` (the prompt box filled).

GT is the amodal-COCO schema (``segmentation`` amodal, ``visible_mask``, ``occlude_rate``).
Metrics are given for all instances and for the occluded / unoccluded subsets (GT occlusion
rate > 0 or = 0), with the IoU-refined score ρ_front × ρ_ours and with ρ_front alone (Table 4).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tqdm import tqdm

from sameo_core.evaluation.coco_eval import load_gt, load_results
from sameo_core.evaluation.predict import BASELINES, baseline_results, model_results
from sameo_core.evaluation.prompts import PROMPT_KINDS, detection_prompts, gt_prompts
from sameo_core.evaluation.run import evaluate_results, table_rows
from sameo_core.evaluation.tables import markdown_table, precision_recall_plot
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo
from sameo_core.tools import cli


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="SAMEO class-agnostic evaluation", add_help=add_help)
    p.add_argument("--gt", type=Path, required=True, help="amodal-COCO GT annotations")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--results", type=Path, help="COCO segm results JSON to score as is")
    src.add_argument("--detections", type=Path, help="front-end detections → box prompts")
    src.add_argument("--prompts", choices=PROMPT_KINDS[1:], help="GT boxes as prompts")
    p.add_argument("--checkpoint", type=Path, help="SAMEO weights (needed with prompts)")
    p.add_argument("--variant", help="model size when the checkpoint does not say it")
    p.add_argument("--baseline", choices=BASELINES, help="reference predictor instead of SAMEO")
    p.add_argument("--image-root", type=Path, help="folder of GT file_name (default: GT's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, help="write the metrics here")
    p.add_argument("--plot", type=Path, help="precision-recall PNG")
    p.add_argument("--save-results", type=Path, help="write the predicted COCO results here")
    return p


def _results(args: argparse.Namespace, gt: dict) -> list[dict]:
    if args.results is not None:
        if args.checkpoint or args.baseline:
            raise ValueError("--results scores given masks: no --checkpoint or --baseline")
        return load_results(args.results)
    prompts = (detection_prompts(args.detections, gt) if args.detections is not None
               else gt_prompts(gt, args.prompts))  # fmt: skip
    if args.baseline:
        return baseline_results(gt, prompts, args.baseline)
    if args.checkpoint is None:
        raise ValueError("prompted evaluation needs --checkpoint (or --baseline)")
    model = build_sameo(variant=args.variant, checkpoint=args.checkpoint)
    # Degenerate or non-finite detector boxes get no mask (they cannot be prompts at all).
    predictor = AmodalPredictor(model, device=torch.device(args.device),
                                config=PredictorConfig(invalid_boxes="skip"))  # fmt: skip
    root = args.image_root or args.gt.parent
    return model_results(predictor, gt, prompts, root, progress=lambda it: tqdm(it, "images"))


def main(args: argparse.Namespace) -> dict:
    gt = load_gt(args.gt)
    results = _results(args, gt)
    if args.save_results:
        args.save_results.write_text(json.dumps(results))
    metrics, curves = evaluate_results(gt, results)
    print(markdown_table(table_rows(metrics)))
    if "mIoU" in metrics:
        print(" ".join(f"mIoU {s}: {metrics[s]['mIoU']:.4f} ({metrics[s]['count']})"
                       for s in ("occluded", "unoccluded")))  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    if args.plot:
        precision_recall_plot({k: v for k, v in curves.items() if "unrefined" not in k}, args.plot)
    return metrics


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
