"""Object permanence: the tracker next to two baselines on videos with amodal ground truth.

    python -m training.synthesize_video --out runs/heldout_videos --num-videos 30 --seed 20261219
    python -m training.evaluate_tracking --gt runs/heldout_videos/annotations.json \\
        --checkpoint checkpoints/demo/sameo_shapes_demo.pt [--masks model|gt] [--json OUT]
    python -m training.evaluate_tracking --gt runs/heldout_videos/annotations.json \\
        --masks gt --noise 0 1 2 3 [--checkpoint CKPT] [--json OUT]

Per frame the simulated detector (`sameo_core/data/simulated_detector.py`: modal boxes, objects
under 10 % visible dropped, `--miss-probability`, jitter, `--detector-ids`) prompts SAMEO; the
tracker (`sameo_core.tracking`) and the baselines (frame by frame; IoU tracker without memory)
get the same masks. `--masks gt` puts the ground-truth masks of the detected objects in place of
SAMEO's (no checkpoint needed): the tracker's own errors, apart from the model's. Prints HOTA,
IDF1, ID switches and the permanence figures (`sameo_core/evaluation/tracking.py` defines
them), the detected masks' mIoU with their objects' ground truth, the tracker's failed
re-appearances by kind of event and by cause, and the tracker's time per frame next to the
model's; asserts nothing.

`--noise K [K ...]` (with `--masks gt`): the tracker on the ground-truth masks perturbed as the
occlusion evaluation's noise curve does (dilate or erode by K px, shift by up to K px; amodal
and visible independently, seeded by the detector seed and K), one row per K: the masks' mIoU
next to the tracker's IDF1, ID switches, hidden recall, static hidden mIoU and re-appearance.
With `--checkpoint` the model's row comes first, on the same videos and detections: the K whose
mIoU matches the model's tells whether the tracker copes with that much error.
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
from sameo_core.evaluation.tracking import (
    METHODS,
    breakdown_markdown,
    markdown,
    mask_quality,
    noise_table,
    reappear_breakdown,
    run_video,
    score_method,
    states_share,
)
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.tracking import TrackerConfig

TUNABLE = ("visible_threshold", "hidden_cover", "min_completeness", "shape_rate",
           "min_affinity", "position_noise", "acceleration_noise")
MAX_NOISE = 16  # px: perturb_mask's disk of radius K costs O(K^2) per pixel


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", type=Path, required=True, help="a sameo-video/1 annotations.json")
    p.add_argument("--checkpoint", type=Path, help="SAMEO (with a modal head for visible masks)")
    p.add_argument("--base-checkpoint", type=Path)
    p.add_argument("--variant")
    p.add_argument("--masks", choices=("model", "gt"), default="model")
    p.add_argument("--noise", type=int, nargs="+", metavar="K",
                   help=f"with --masks gt: perturb them by K px (0..{MAX_NOISE}), one run per K")
    p.add_argument("--max-videos", type=int, help="evaluate the first N videos only")
    p.add_argument("--seed", type=int, default=0, help="detector seed (video i: seed + i)")
    p.add_argument("--miss-probability", type=float, default=DetectorConfig.miss_probability)
    p.add_argument("--detector-ids", choices=("none", "unstable"), default=DetectorConfig.ids)
    p.add_argument("--hidden-timeout", type=float, default=TrackerConfig.hidden_timeout)
    p.add_argument("--motion", choices=("constant_velocity", "static"),
                   default=TrackerConfig.motion)
    p.add_argument("--relearn-after", type=int, default=TrackerConfig.relearn_after)
    for name in TUNABLE:  # TrackerConfig's thresholds (its docstring), validated by it
        p.add_argument("--" + name.replace("_", "-"), type=float,
                       default=getattr(TrackerConfig, name))
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
    if args.noise is not None:
        if args.masks != "gt":
            raise ValueError("--noise perturbs ground-truth masks: use it with --masks gt")
        bad = [k for k in args.noise if not 0 <= k <= MAX_NOISE]
        if bad:
            raise ValueError(f"--noise K must be in 0..{MAX_NOISE} px, got {bad}")
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = None
    if args.masks == "model" or (args.noise is not None and args.checkpoint is not None):
        if args.checkpoint is None:
            raise ValueError("--checkpoint is needed with --masks model")
        model = build_sameo(args.variant, args.checkpoint, base_checkpoint=args.base_checkpoint)
        predictor = AmodalPredictor(model, device=torch.device(args.device))
    detector = DetectorConfig(miss_probability=args.miss_probability, ids=args.detector_ids)
    tracker = TrackerConfig(hidden_timeout=args.hidden_timeout, motion=args.motion,
                            relearn_after=args.relearn_after,
                            **{name: getattr(args, name) for name in TUNABLE})
    if args.noise is not None:
        return _noise_curve(args, videos, predictor, detector, tracker)
    runs = [run_video(video, predictor, detector, tracker, seed=args.seed + i)
            for i, video in enumerate(tqdm(videos, "videos"))]  # fmt: skip
    tracker_ms = np.array([s for r in runs for s in r.tracker_s]) * 1e3
    model_ms = np.array([s for r in runs for s in r.model_s]) * 1e3
    warnings = [w for r in runs for w in r.warnings]
    methods = {m: score_method(runs, m) for m in METHODS}
    return {
        "gt": str(args.gt), "checkpoint": str(args.checkpoint), "masks": args.masks,
        "videos": len(runs), "frames": int(len(tracker_ms)),
        "detector": asdict(detector), "tracker": asdict(tracker),
        "methods": methods,
        "mask_quality": mask_quality(runs),
        "reappear_breakdown": reappear_breakdown(methods["tracker"]["reappear_detail"], videos),
        "tracker_states": states_share(runs),
        "tracker_ms_per_frame": {"median": float(np.median(tracker_ms)),
                                 "p99": float(np.percentile(tracker_ms, 99))},
        "model_ms_per_frame": {"median": float(np.median(model_ms))} if predictor else None,
        "warnings": len(warnings),
    }


def _noise_curve(args: argparse.Namespace, videos: list[Any], predictor: AmodalPredictor | None,
                 detector: DetectorConfig, tracker: TrackerConfig) -> dict[str, Any]:
    """The tracker on GT masks perturbed by each K (and on the model's masks, with a
    predictor): one row per run, its masks' quality and the tracker's figures."""
    plays: list[tuple[str, int | None, AmodalPredictor | None]] = []
    if predictor is not None:
        plays.append(("model", None, predictor))
    plays += [(f"GT, K = {k} px", k, None) for k in args.noise]
    rows = []
    for label, k, play_predictor in plays:
        runs = [run_video(video, play_predictor, detector, tracker, seed=args.seed + i,
                          mask_noise=k or 0)
                for i, video in enumerate(tqdm(videos, label))]  # fmt: skip
        score = score_method(runs, "tracker")
        rows.append({"label": label, "k": k, "masks": mask_quality(runs), "tracker": score,
                     "reappear_breakdown": reappear_breakdown(score["reappear_detail"], videos)})
    return {"gt": str(args.gt), "checkpoint": str(args.checkpoint), "masks": "gt",
            "noise": list(args.noise), "videos": len(videos),
            "frames": sum(len(v.frames) for v in videos), "detector": asdict(detector),
            "tracker": asdict(tracker), "rows": rows}


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    summary = run(args)
    if args.noise is not None:
        print(noise_table(summary["rows"]))
        for row in summary["rows"]:
            print(f"\nTracker, {row['label']}:\n" + breakdown_markdown(row["reappear_breakdown"]))
        _write(args.json, summary)
        return summary
    print(markdown(summary))
    print("\nTracker:\n" + breakdown_markdown(summary["reappear_breakdown"]))
    quality = summary["mask_quality"]
    if quality["masks"]:
        print(f"detected masks: amodal mIoU {quality['amodal_mIoU']:.3f} ({quality['masks']}), "
              f"occluded objects: amodal {quality['amodal_mIoU_occluded'] or 0:.3f}, visible "
              f"{quality['visible_mIoU_occluded'] or 0:.3f} ({quality['occluded']})")
    timing = summary["tracker_ms_per_frame"]
    line = f"tracker: {timing['median']:.2f} ms per frame (median), p99 {timing['p99']:.2f} ms"
    if summary["model_ms_per_frame"]:
        line += f"; model: {summary['model_ms_per_frame']['median']:.1f} ms per frame"
    print(line)
    _write(args.json, summary)
    return summary


def _write(path: Path | None, summary: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    cli.run(main)
