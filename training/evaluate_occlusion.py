"""Occlusion evaluation: pairwise occlusion-order accuracy, visible-mask and amodal-mask mIoU.

Sibling of ``training.evaluate`` (which scores amodal masks with COCO AP). Needs a GT with the true
layer order (the ``occluded_by`` key our synthetic sets carry) and a model with a modal head::

    python -m training.synthesize --source scenes --out runs/heldout_scenes \\
        --num-images 300 --seed 20261210 --image-size 128
    python -m training.evaluate_occlusion --gt amodal_coco:runs/heldout_scenes/annotations.json \\
        --checkpoint checkpoints/demo/sameo_shapes_demo.pt [--prompts gt-modal] [--json OUT]

``--gt`` is ``FORMAT:PATH`` for any reader of ``sameo_core.data.registry`` (a bare path reads the
amodal-COCO schema); ``--image-root`` defaults to the GT file's folder. It prints the order
accuracy of the occlusion order, of the old spill heuristic and of the rule on GT masks, the
mean IoUs, and where the predicted masks fail over the true overlap of each pair (what each
visible mask claims there, what each amodal mask covers, the amodal bleed;
``sameo_core/evaluation/occlusion.py`` says what each row is); it asserts nothing. With a
checkpoint that has the optional order head it adds the rule with the head's scores
(``--learned-weight``) and the head alone; ``--no-order-head`` leaves the head out.

Mask-noise robustness (no model: the rule on GT masks perturbed by k px, k = 0..4)::

    python -m training.evaluate_occlusion --gt amodal_coco:runs/heldout_scenes/annotations.json \
        --noise 0 1 2 3 4 [--noise-seed 0] [--json OUT]
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
from sameo_core.evaluation.occlusion import (
    evaluate_occlusion,
    markdown,
    noise_markdown,
    noise_robustness,
)
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import OrderConfig
from sameo_core.model import build_sameo
from sameo_core.tools import cli


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", required=True, help="FORMAT:PATH (or an amodal-COCO path) with a "
                   "layer order")
    p.add_argument("--checkpoint", type=Path, help="SAMEO with a modal head (not with --noise)")
    p.add_argument("--base-checkpoint", type=Path, help="base weights for a decoder-only file")
    p.add_argument("--variant", help="model size when the checkpoint does not say it")
    p.add_argument("--image-root", type=Path, help="folder of the GT images (default: GT's)")
    p.add_argument("--prompts", choices=("gt-modal", "gt-amodal"), default="gt-modal")
    p.add_argument("--min-overlap", type=int, default=OrderConfig.min_overlap)
    p.add_argument("--margin", type=float, default=OrderConfig.margin)
    p.add_argument("--learned-weight", type=float, default=OrderConfig.learned_weight,
                   help="weight of the order head's score (a checkpoint with an order head)")
    p.add_argument("--no-order-head", action="store_true",
                   help="leave a checkpoint's order head out (the figures without it)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads on a CPU (0: torch's "
                   "default; 1 on a shared machine)")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the summary here")
    p.add_argument("--noise", type=int, nargs="+", metavar="K",
                   help="instead of a model: the rule on GT masks perturbed by K px "
                   f"(0..{MAX_NOISE})")  # fmt: skip
    p.add_argument("--noise-seed", type=int, default=0)
    return p


MAX_NOISE = 32  # px; a radius bounds the work of the morphology per mask


def run(args: argparse.Namespace) -> dict[str, Any]:
    fmt, path = parse_spec(args.gt) if ":" in args.gt else ("amodal_coco", Path(args.gt))
    result = read_dataset(fmt, path, args.image_root)
    if result.report.num_bad:
        print(result.report.summary())
    groups = group_by_image(result.records)
    if not groups:
        raise ValueError(f"{args.gt} holds no usable instance")
    config = OrderConfig(min_overlap=args.min_overlap, margin=args.margin,
                         learned_weight=args.learned_weight)
    order_config = {"min_overlap": config.min_overlap, "margin": config.margin,
                    "learned_weight": config.learned_weight}
    if args.noise is not None:
        if args.checkpoint is not None:
            raise ValueError("--noise measures the rule on perturbed GT masks: no --checkpoint")
        bad = [k for k in args.noise if not 0 <= k <= MAX_NOISE]
        if bad:
            raise ValueError(f"--noise radii must be in 0..{MAX_NOISE} px, got {bad}")
        summary = noise_robustness(groups, args.noise, args.prompts, args.noise_seed, config)
        summary.update(gt=args.gt, order_config=order_config)
        return summary
    if args.checkpoint is None:
        raise ValueError("--checkpoint is required (or --noise K ... for the GT-mask mode)")
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_sameo(args.variant, args.checkpoint, base_checkpoint=args.base_checkpoint,
                        order_head=False if args.no_order_head else None)
    if not model.has_modal_head:
        raise ValueError(f"{args.checkpoint} has no modal head: visible masks and the "
                         "occlusion order need one (README, 'The model and its checkpoints')")
    predictor = AmodalPredictor(model, device=torch.device(args.device))
    summary = evaluate_occlusion(predictor, groups, args.prompts, config,
                                 progress=lambda it: tqdm(it, "images", total=len(groups)))
    summary.update(gt=args.gt, checkpoint=str(args.checkpoint), order_config=order_config)
    return summary


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    summary = run(args)
    print(noise_markdown(summary) if args.noise is not None else markdown(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


if __name__ == "__main__":
    cli.run(main)
