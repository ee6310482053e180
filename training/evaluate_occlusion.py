"""Occlusion evaluation: pairwise occlusion-order accuracy, visible-mask and amodal-mask mIoU.

Sibling of ``training.evaluate`` (which scores amodal masks with COCO AP). Needs a GT with the true
layer order (the ``occluded_by`` key our synthetic sets carry) and a model with a modal head::

    python -m training.synthesize --source scenes --out runs/heldout_scenes \\
        --num-images 300 --seed 20261210 --image-size 128
    python -m training.evaluate_occlusion --gt amodal_coco:runs/heldout_scenes/annotations.json \\
        --checkpoint checkpoints/demo/sameo_shapes_demo.pt [--prompts gt-modal] [--json OUT]

``--gt`` is ``FORMAT:PATH`` for any reader of ``sameo_core.data.registry`` (a bare path reads the
amodal-COCO schema); ``--image-root`` defaults to the GT file's folder. It prints the order
accuracy of the occlusion order, of the old spill heuristic and of the rule on GT masks, and the
mean IoUs (``sameo_core/evaluation/occlusion.py`` says what each row is); it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from sameo_core.data.records import group_by_image
from sameo_core.data.registry import parse_spec, read_dataset
from sameo_core.evaluation.occlusion import evaluate_occlusion, markdown
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import OrderConfig
from sameo_core.model import build_sameo
from sameo_core.tools import cli


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", required=True, help="FORMAT:PATH (or an amodal-COCO path) with a "
                   "layer order")
    p.add_argument("--checkpoint", type=Path, required=True, help="SAMEO with a modal head")
    p.add_argument("--base-checkpoint", type=Path, help="base weights for a decoder-only file")
    p.add_argument("--variant", help="model size when the checkpoint does not say it")
    p.add_argument("--image-root", type=Path, help="folder of the GT images (default: GT's)")
    p.add_argument("--prompts", choices=("gt-modal", "gt-amodal"), default="gt-modal")
    p.add_argument("--min-overlap", type=int, default=OrderConfig.min_overlap)
    p.add_argument("--margin", type=float, default=OrderConfig.margin)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, help="write the summary here")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    fmt, path = parse_spec(args.gt) if ":" in args.gt else ("amodal_coco", Path(args.gt))
    result = read_dataset(fmt, path, args.image_root)
    if result.report.num_bad:
        print(result.report.summary())
    groups = group_by_image(result.records)
    if not groups:
        raise ValueError(f"{args.gt} holds no usable instance")
    model = build_sameo(args.variant, args.checkpoint, base_checkpoint=args.base_checkpoint)
    if not model.has_modal_head:
        raise ValueError(f"{args.checkpoint} has no modal head: visible masks and the "
                         "occlusion order need one (README, 'The model and its checkpoints')")
    predictor = AmodalPredictor(model, device=torch.device(args.device))
    config = OrderConfig(min_overlap=args.min_overlap, margin=args.margin)
    summary = evaluate_occlusion(predictor, groups, args.prompts, config,
                                 progress=lambda it: tqdm(it, "images", total=len(groups)))
    summary.update(gt=args.gt, checkpoint=str(args.checkpoint),
                   order_config={"min_overlap": config.min_overlap, "margin": config.margin})
    return summary


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    summary = run(args)
    print(markdown(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


if __name__ == "__main__":
    cli.run(main)
