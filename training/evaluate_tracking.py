"""Object permanence: the tracker next to two baselines on videos with amodal ground truth.

    python -m training.synthesize_video --out runs/heldout_videos --num-videos 30 --seed 20261219
    python -m training.evaluate_tracking --gt runs/heldout_videos/annotations.json \\
        --checkpoint checkpoints/demo/sameo_shapes_demo.pt [--masks model|gt] [--json OUT]

Per frame the simulated detector (`sameo_core/data/simulated_detector.py`: modal boxes, objects
under 10 % visible dropped, `--miss-probability`, jitter, `--detector-ids`) prompts SAMEO; the
tracker (`sameo_core.tracking`) and the baselines (frame by frame; IoU tracker without memory)
get the same masks. `--masks gt` puts the ground-truth masks of the detected objects in place of
SAMEO's (no checkpoint needed): the tracker's own errors, apart from the model's. Prints HOTA,
IDF1, ID switches and the permanence figures (`sameo_core/evaluation/tracking.py` defines
them), and the tracker's time per frame next to the model's; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sameo_core.data.simulated_detector import DetectorConfig
from sameo_core.data.video_dataset import read_video_set
from sameo_core.evaluation.tracking import METHODS, markdown, run_video, score_method, states_share
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.tracking import TrackerConfig


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", type=Path, required=True, help="a sameo-video/1 annotations.json")
    p.add_argument("--checkpoint", type=Path, help="SAMEO (with a modal head for visible masks)")
    p.add_argument("--base-checkpoint", type=Path)
    p.add_argument("--variant")
    p.add_argument("--masks", choices=("model", "gt"), default="model")
    p.add_argument("--max-videos", type=int, help="evaluate the first N videos only")
    p.add_argument("--seed", type=int, default=0, help="detector seed (video i: seed + i)")
    p.add_argument("--miss-probability", type=float, default=DetectorConfig.miss_probability)
    p.add_argument("--detector-ids", choices=("none", "unstable"), default=DetectorConfig.ids)
    p.add_argument("--hidden-timeout", type=float, default=TrackerConfig.hidden_timeout)
    p.add_argument("--motion", choices=("constant_velocity", "static"),
                   default=TrackerConfig.motion)
    p.add_argument("--relearn-after", type=int, default=TrackerConfig.relearn_after)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--json", type=Path, help="write the summary here")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    videos = read_video_set(args.gt)
    if args.max_videos is not None:
        if args.max_videos < 1:
            raise ValueError(f"--max-videos must be ≥ 1, got {args.max_videos}")
        videos = videos[: args.max_videos]
    if not videos:
        raise ValueError(f"{args.gt} holds no video")
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = None
    if args.masks == "model":
        if args.checkpoint is None:
            raise ValueError("--checkpoint is needed with --masks model")
        model = build_sameo(args.variant, args.checkpoint, base_checkpoint=args.base_checkpoint)
        predictor = AmodalPredictor(model, device=torch.device(args.device))
    detector = DetectorConfig(miss_probability=args.miss_probability, ids=args.detector_ids)
    tracker = TrackerConfig(hidden_timeout=args.hidden_timeout, motion=args.motion,
                            relearn_after=args.relearn_after)
    runs = [run_video(video, predictor, detector, tracker, seed=args.seed + i)
            for i, video in enumerate(tqdm(videos, "videos"))]  # fmt: skip
    tracker_ms = np.array([s for r in runs for s in r.tracker_s]) * 1e3
    model_ms = np.array([s for r in runs for s in r.model_s]) * 1e3
    warnings = [w for r in runs for w in r.warnings]
    return {
        "gt": str(args.gt), "checkpoint": str(args.checkpoint), "masks": args.masks,
        "videos": len(runs), "frames": int(len(tracker_ms)),
        "detector": asdict(detector), "tracker": asdict(tracker),
        "methods": {m: score_method(runs, m) for m in METHODS},
        "tracker_states": states_share(runs),
        "tracker_ms_per_frame": {"median": float(np.median(tracker_ms)),
                                 "p99": float(np.percentile(tracker_ms, 99))},
        "model_ms_per_frame": {"median": float(np.median(model_ms))} if predictor else None,
        "warnings": len(warnings),
    }


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    summary = run(args)
    print(markdown(summary))
    timing = summary["tracker_ms_per_frame"]
    line = f"tracker: {timing['median']:.2f} ms per frame (median), p99 {timing['p99']:.2f} ms"
    if summary["model_ms_per_frame"]:
        line += f"; model: {summary['model_ms_per_frame']['median']:.1f} ms per frame"
    print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


if __name__ == "__main__":
    cli.run(main)
