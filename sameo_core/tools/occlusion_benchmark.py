"""What the modal head and the occlusion order add to a frame, as a share of the model's time.

    python -m sameo_core.tools.occlusion_benchmark [--checkpoint CKPT ...] [--variant vitt ...] \
        [--device cuda] [--threads N] [--repeats 7] [--json OUT]

One 640x480 frame of procedural shapes (4 x 3 tiles of `generate_scene`) with 20 detections
(visible boxes, as a modal detector gives). Per model, timed in alternation (machines are shared
and noisy, see BENCHMARKS.md), median of `--repeats` after a warm-up:

* encoder: `set_image`;
* decoder, amodal head only: `predict` with `PredictorConfig(modal=False)`;
* decoder, both heads: `predict` with the modal head as well (visible masks, hidden parts);
* occlusion order: `occlusion_order` on those masks;
* for reference, the old spill heuristic (front-to-back guess + visible masks).

model time = encoder + amodal-only decoder (what a frame cost before); extra = (both heads −
amodal only) + occlusion order. Each `--checkpoint` must have a modal head; each `--variant` is
built with seeded random weights and a random modal head (speed does not depend on the weights).
Default: the demo checkpoint and ViT-T.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.evaluation.spill_order import spill_front_to_back, visible_from_order
from sameo_core.geometry import mask_boxes
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.model import Sameo, build_sameo
from sameo_core.tools import cli
from sameo_core.tools.inference_benchmark import timed_side_by_side

FRAME_HW = (480, 640)
TILE = 160
DETECTIONS = 20
DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "demo" / "sameo_shapes_demo.pt"


def scene_frame(seed: int = 0, detections: int = DETECTIONS) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 [480, 640, 3], xyxy boxes [detections, 4]): tiles of procedural scenes and
    the visible boxes of their objects, repeated with a few pixels of jitter if too few."""
    rng = np.random.default_rng(seed)
    height, width = FRAME_HW
    image = np.zeros((height, width, 3), np.uint8)
    boxes = []
    for top in range(0, height, TILE):
        for left in range(0, width, TILE):
            rgb, instances = generate_scene(rng, SceneConfig(image_size=TILE))
            image[top : top + TILE, left : left + TILE] = rgb
            visible = [i.visible_mask for i in instances if i.visible_mask.any()]
            boxes.extend(mask_boxes(np.stack(visible)) + (left, top, left, top))
    boxes = np.asarray(boxes)
    picked = boxes[np.arange(detections) % len(boxes)]
    jitter = rng.integers(-3, 4, picked.shape) * (np.arange(detections) >= len(boxes))[:, None]
    return image, np.clip(picked + jitter, 0, [width, height, width, height]).astype(np.float64)


def bench_model(
    name: str, model: Sameo, device: torch.device, repeats: int, image: np.ndarray,
    boxes: np.ndarray,
) -> dict[str, Any]:
    if not model.has_modal_head:
        raise ValueError(f"{name} has no modal head: nothing to measure")
    both = AmodalPredictor(model, device=device)
    amodal_only = AmodalPredictor(model, device=device, config=PredictorConfig(modal=False))
    both.set_image(image)
    amodal_only.set_image(image)
    masks = both.predict(boxes).masks
    amodal, visible = [m.amodal for m in masks], [m.visible for m in masks]
    times = timed_side_by_side({
        "encoder": lambda: both.set_image(image),
        "decoder_amodal": lambda: amodal_only.predict(boxes),
        "decoder_both": lambda: both.predict(boxes),
        "order": lambda: occlusion_order(amodal, visible),
        "spill_heuristic": lambda: visible_from_order(
            amodal, spill_front_to_back(amodal, list(boxes)), FRAME_HW),
    }, repeats, device)  # fmt: skip
    ms = {k: v["median_ms"] for k, v in times.items()}
    model_ms = ms["encoder"] + ms["decoder_amodal"]
    modal_ms = ms["decoder_both"] - ms["decoder_amodal"]
    order = occlusion_order(amodal, visible)
    return {
        "model": name, "params": sum(p.numel() for p in model.parameters()),
        "median_ms": ms, "min_ms": {k: v["min_ms"] for k, v in times.items()},
        "model_ms": model_ms, "modal_pass_ms": modal_ms, "order_ms": ms["order"],
        "extra_ms": modal_ms + ms["order"],
        "extra_share": (modal_ms + ms["order"]) / model_ms,
        "modal_share": modal_ms / model_ms, "order_share": ms["order"] / model_ms,
        "related_pairs": len(order.pairs),
        "decided_pairs": sum(p.front is not None for p in order.pairs),
    }


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, action="append", default=[],
                   help="a checkpoint with a modal head (repeatable)")
    p.add_argument("--variant", action="append", default=[],
                   help="a model size with random weights (repeatable)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--detections", type=int, default=DETECTIONS)
    p.add_argument("--json", type=Path)
    return p


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    if args.repeats < 1 or args.detections < 1:
        raise ValueError("--repeats and --detections must be ≥ 1")
    if not args.checkpoint and not args.variant:
        args.checkpoint, args.variant = [DEMO], ["vitt"]
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    image, boxes = scene_frame(detections=args.detections)
    models: list[tuple[str, Sameo]] = [(str(c), build_sameo(checkpoint=c))
                                       for c in args.checkpoint]
    for variant in args.variant:
        torch.manual_seed(0)
        models.append((f"{variant} (random weights)", build_sameo(variant, modal_head=True)))
    rows = []
    for name, model in models:
        row = bench_model(name, model, device, args.repeats, image, boxes)
        rows.append(row)
        print(f"{name}: model {row['model_ms']:.1f} ms (encoder {row['median_ms']['encoder']:.1f}"
              f" + amodal decoder {row['median_ms']['decoder_amodal']:.1f}); modal pass "
              f"+{row['modal_pass_ms']:.1f} ms, order {row['order_ms']:.2f} ms "
              f"({row['related_pairs']} related pairs): extra {100 * row['extra_share']:.1f} % of "
              f"model time; old spill heuristic {row['median_ms']['spill_heuristic']:.2f} ms")
    report = {
        "frame": {"height": FRAME_HW[0], "width": FRAME_HW[1], "detections": len(boxes)},
        "device": str(device), "threads": torch.get_num_threads(), "repeats": args.repeats,
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    cli.run(main)
