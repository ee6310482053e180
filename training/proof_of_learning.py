"""Proof of learning: a trained SAMEO against the same model untrained and two references.

On a held-out amodal-COCO set (e.g. made by ``python -m training.synthesize``), for amodal-box
and visible-box GT prompts, report mean IoU with the amodal GT and class-agnostic AP, on occluded
and on unoccluded instances, for:

* the trained model and the same model before training (SAMEO scored by its predicted IoU);
* ``visible``: the visible mask taken as the amodal mask (no completion);
* ``box-fill``: the prompt box filled.

::

    python -m training.proof_of_learning --gt runs/heldout_shapes/annotations.json \\
        --trained checkpoints/demo/sameo_shapes_demo.pt \\
        --untrained runs/cpu_shapes/model_step0.pt \\
        --json checkpoints/demo/evaluation.json --markdown checkpoints/demo/evaluation.md

It prints the table and writes JSON (and markdown); it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sameo_core.evaluation.coco_eval import load_gt
from sameo_core.evaluation.predict import baseline_results, model_results
from sameo_core.evaluation.prompts import gt_prompts
from sameo_core.evaluation.run import evaluate_results
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
from sameo_core.tools import cli

PROMPTS = {"gt-amodal": "amodal box", "gt-modal": "visible box"}
SUBSETS = ("occluded", "unoccluded")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", type=Path, required=True)
    p.add_argument("--image-root", type=Path, help="default: the GT file's folder")
    p.add_argument("--trained", type=Path, required=True, help="trained SAMEO checkpoint")
    p.add_argument("--untrained", type=Path, help="the same model before training")
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    return p


def _summary(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {s: {"mIoU": metrics[s]["mIoU"], "AP": metrics[s]["AP"], "AP50": metrics[s]["AP50"],
                "count": metrics[s]["count"]} for s in SUBSETS}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    gt = load_gt(args.gt, args.image_root)
    root = ""  # load_gt made the image paths absolute
    models = {"SAMEO trained": args.trained}
    if args.untrained:
        models["SAMEO before training"] = args.untrained
    predictors = {name: AmodalPredictor(build_sameo(checkpoint=path))
                  for name, path in models.items()}  # fmt: skip
    report: dict[str, Any] = {"gt": str(args.gt), "checkpoints": {k: str(v) for k, v in
                              models.items()}, "rows": {}}  # fmt: skip
    for kind, label in PROMPTS.items():
        prompts = gt_prompts(gt, kind)
        rows = {name: model_results(p, gt, prompts, root) for name, p in predictors.items()}
        rows["baseline: visible mask as amodal"] = baseline_results(gt, prompts, "visible")
        rows["check: fill the prompt box"] = baseline_results(gt, prompts, "box-fill")
        report["rows"][label] = {name: _summary(evaluate_results(gt, results)[0])
                                 for name, results in rows.items()}  # fmt: skip
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = ["| prompt | predictor | occluded mIoU | occluded AP | unoccluded mIoU | "
             "unoccluded AP |", "|---|---|---|---|---|---|"]  # fmt: skip
    for prompt, rows in report["rows"].items():
        for name, subsets in rows.items():
            occ, unocc = subsets["occluded"], subsets["unoccluded"]
            lines.append(f"| {prompt} | {name} | {occ['mIoU']:.3f} | {100 * occ['AP']:.1f} | "
                         f"{unocc['mIoU']:.3f} | {100 * unocc['AP']:.1f} |")  # fmt: skip
    counts = next(iter(next(iter(report["rows"].values())).values()))
    lines.append(f"\n{counts['occluded']['count']} occluded and "
                 f"{counts['unoccluded']['count']} unoccluded instances; AP is class-agnostic "
                 "COCO mask AP (SAMEO ranked by its predicted IoU, references by score 1).")
    return "\n".join(lines)


def main() -> None:
    args = get_args_parser().parse_args()
    report = run(args)
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    cli.run(main)
