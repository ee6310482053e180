"""Class-agnostic amodal mask evaluation (COCO AP, AP50, AP75, AR@100), as in the paper.

From a SAMEO model, prompted by front-end detections (a COCO results JSON with ``image_id``,
``bbox`` xywh and ``score``) or by GT boxes::

    python -m training.evaluate --gt kins:instances_val.json --detections DETS.json \\
        --checkpoint CKPT [--variant vitt] [--image-root DIR] [--json OUT.json] [--plot PR.png]
    python -m training.evaluate --gt cocoa_cls:COCO_amodal_val2014_with_classes.json \\
        --prompts gt-modal --checkpoint CKPT --image-root val2014/

From masks already predicted (a COCO segm results JSON)::

    python -m training.evaluate --gt d2sa:D2S_amodal_validation.json --results RESULTS.json

Reference predictors for GT prompts (no model): ``--baseline visible`` (the visible mask as
the amodal mask) and ``--baseline box-fill`` (the prompt box filled).

``--gt FORMAT:PATH`` is read by our dataset readers (cocoa, cocoa_cls, d2sa, kins, kins2020,
walt, amodal_coco; a plain path is amodal-COCO), so visible masks, occlusion rates and modal
boxes are right for each schema; ``coco_instances:PATH`` is a GT of amodal masks without visible
masks, which refuses modal prompts, the visible baseline and the subsets (use ``--subsets none``).
Metrics are given for all instances and for the occluded / unoccluded subsets (GT occlusion
rate > 0 or = 0), with the IoU-refined score ρ_front × ρ_ours and with ρ_front alone (Table 4).
``--subsets ignore`` (default) makes the other subset's objects ignore regions; ``--subsets
separate`` removes them, as the authors' ``*_occ.json`` / ``*_unocc.json`` files do (their
predictions become false positives); the paper's tables report all instances only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from sameo_core.evaluation.coco_eval import (
    SUBSET_METHODS,
    SUBSETS,
    NoVisibleMasksError,
    load_gt,
    load_results,
)
from sameo_core.evaluation.predict import BASELINES, baseline_results, model_results
from sameo_core.evaluation.prompts import PROMPT_KINDS, detection_prompts, gt_prompts
from sameo_core.evaluation.run import evaluate_results, table_rows
from sameo_core.evaluation.tables import markdown_table, precision_recall_plot
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo
from sameo_core.tools import cli


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="SAMEO class-agnostic evaluation", add_help=add_help)
    p.add_argument("--gt", required=True, metavar="FORMAT:PATH",
                   help="GT annotations (a reader format; a plain path is amodal-COCO)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--results", type=Path, help="COCO segm results JSON to score as is")
    src.add_argument("--detections", type=Path, help="front-end detections → box prompts")
    src.add_argument("--prompts", choices=PROMPT_KINDS[1:], help="GT boxes as prompts")
    p.add_argument("--checkpoint", type=Path, help="SAMEO weights (needed with prompts)")
    p.add_argument("--variant", help="model size when the checkpoint does not say it")
    p.add_argument("--baseline", choices=BASELINES, help="reference predictor instead of SAMEO")
    p.add_argument("--image-root", type=Path, help="folder of GT file_name (default: GT's)")
    p.add_argument("--subsets", choices=(*SUBSET_METHODS, "none"), default="ignore",
                   help="occluded/unoccluded subsets: other subset ignored (default), removed "
                   "(the authors' separate GT files), or no subsets")  # fmt: skip
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
    # file names of the loaded GT are absolute (load_gt resolved them with --image-root)
    return model_results(predictor, gt, prompts, "", progress=lambda it: tqdm(it, "images"))


def main(args: argparse.Namespace) -> dict:
    gt = load_gt(args.gt, args.image_root)
    report = gt["read_report"]
    if report["dropped"] or report["repaired"]:
        print(f"GT {args.gt}: reader dropped {report['dropped']}, repaired "
              f"{report['repaired']}", file=sys.stderr)  # fmt: skip
    subsets = ("all",) if args.subsets == "none" else SUBSETS
    method = "ignore" if args.subsets == "none" else args.subsets
    if len(subsets) > 1 and not gt["visible_masks"]:  # refuse before predicting anything
        raise NoVisibleMasksError("the occluded / unoccluded subsets")
    results = _results(args, gt)
    if args.save_results:
        args.save_results.write_text(json.dumps(results))
    metrics, curves = evaluate_results(gt, results, subsets, method)
    metrics["gt"] = {"spec": str(args.gt), "subsets": args.subsets, **report}
    print(markdown_table(table_rows(metrics)))
    if "mIoU" in metrics and "occluded" in metrics:
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
