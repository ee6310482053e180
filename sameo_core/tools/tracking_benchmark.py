"""What the tracker costs per frame at 20 tracks, as a share of the model's time per frame.

    python -m sameo_core.tools.tracking_benchmark [--checkpoint CKPT] [--device cuda]
        [--threads N] [--repeats 7] [--frames 30] [--json OUT]

The frame of `occlusion_benchmark` (640x480, 4 x 3 tiles of procedural scenes, 20 detections =
visible boxes of 20 distinct objects). The model (the demo checkpoint by default) runs the
encoder and both heads on it: its masks feed the tracker, and its time is the model time. The
tracker then runs a stream of frames built from those masks: every odd object moves 1 px per
frame to the right, and each frame withholds 2 objects in turn (a detector miss), which the
tracker re-prompts (`reprompt` answers from the frame's masks, so no decoder time is counted:
`TrackerResult.tracker_s` excludes the re-prompt) — 20 live tracks all along. Model and tracker
are timed in alternation (`repeats` rounds of one model frame and `frames` tracker frames;
machines are shared and noisy, BENCHMARKS.md); medians are reported, with the tracker's p99.
The occlusion order of each frame is computed outside the tracker's time (the node computes it
anyway).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.tools.occlusion_benchmark import DEMO, FRAME_HW, scene_frame
from sameo_core.tracking import AmodalTracker, DetectionInfo, TrackState

TRACKS = 20
WITHHELD = 2  # objects missing from each frame, in turn


def _shifted(m: InstancePrediction, dx: int, index: int) -> InstancePrediction:
    def move(roi: RoiMask | None) -> RoiMask | None:
        return None if roi is None else RoiMask(roi.mask, (roi.offset[0] + dx, roi.offset[1]))
    shift = np.array([dx, 0, dx, 0], np.float32)
    return InstancePrediction(
        index=index, amodal=move(m.amodal), iou=m.iou, score=m.score,
        prompt_box=m.prompt_box + shift, box=m.box + shift, visible=move(m.visible),
        hidden=move(m.hidden), visible_iou=m.visible_iou, visible_fraction=m.visible_fraction)


def tracker_stream(masks: list[InstancePrediction], frames: int, start: int = 0):
    """Frames (stamp, masks, detections, reprompt) of the stream the module docstring says."""
    n = len(masks)
    for f in range(start, start + frames):
        moved = [_shifted(m, (f // 2) if k % 2 else 0, k) for k, m in enumerate(masks)]
        # the last frame is 60 px further at most: the objects stay well inside 640 px
        missing = {(f * WITHHELD + j) % n for j in range(WITHHELD)}
        shown = [m for k, m in enumerate(moved) if k not in missing]
        shown = [_shifted(m, 0, i) for i, m in enumerate(shown)]

        def reprompt(boxes: np.ndarray, moved=moved) -> list[InstancePrediction]:
            centres = np.array([(m.box[:2] + m.box[2:]) / 2 for m in moved])
            out = []
            for i, box in enumerate(boxes):
                k = int(np.argmin(np.abs(centres - (box[:2] + box[2:]) / 2).sum(1)))
                out.append(_shifted(moved[k], 0, i))
            return out
        yield f / 30.0, shown, [DetectionInfo("", "shape", 0.9)] * len(shown), reprompt


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=DEMO)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--frames", type=int, default=30, help="tracker frames per repeat")
    p.add_argument("--json", type=Path)
    return p


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    if not 1 <= args.repeats <= 1000 or not 1 <= args.frames <= 10_000:
        raise ValueError("--repeats must be in [1, 1000] and --frames in [1, 10000]")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    predictor = AmodalPredictor(build_sameo(checkpoint=args.checkpoint), device=device)
    image, boxes = scene_frame(detections=TRACKS)

    def model_frame() -> list[InstancePrediction]:
        predictor.set_image(image)
        return predictor.predict(boxes).masks

    masks = model_frame()  # warm-up
    tracker = AmodalTracker()
    for stamp, shown, dets, reprompt in tracker_stream(masks, 10):  # all 20 tracks started
        tracker.update(stamp, shown, None, dets, FRAME_HW, reprompt)
    frame = 10
    model_ms, tracker_ms, live, states = [], [], [], {s.name: 0 for s in TrackState}
    for _ in range(args.repeats):
        start = time.perf_counter()
        model_frame()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_ms.append((time.perf_counter() - start) * 1e3)
        for stamp, shown, dets, reprompt in tracker_stream(masks, args.frames, frame):
            order = occlusion_order([m.amodal for m in shown], [m.visible for m in shown])
            result = tracker.update(stamp, shown, order, dets, FRAME_HW, reprompt)
            tracker_ms.append(result.tracker_s * 1e3)
            live.append(len(result.tracks))
            for t in result.tracks:
                states[t.state.name] += 1
        frame += args.frames
    median_tracker = statistics.median(tracker_ms)
    median_model = statistics.median(model_ms)
    report = {
        "frame": {"height": FRAME_HW[0], "width": FRAME_HW[1], "tracks": TRACKS,
                  "withheld_per_frame": WITHHELD},
        "checkpoint": str(args.checkpoint), "device": str(device),
        "threads": torch.get_num_threads(), "repeats": args.repeats, "frames": len(tracker_ms),
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model_ms": median_model, "tracker_ms": median_tracker,
        "tracker_p99_ms": float(np.percentile(tracker_ms, 99)),
        "tracker_share": median_tracker / median_model,
        "tracks_per_frame": {"min": min(live), "max": max(live)}, "states": states,
    }
    print(f"tracker {median_tracker:.2f} ms per frame (median; p99 "
          f"{report['tracker_p99_ms']:.2f} ms) at {min(live)}-{max(live)} tracks = "
          f"{100 * report['tracker_share']:.1f} % of the model's {median_model:.1f} ms "
          f"(encoder + both heads, {TRACKS} boxes, {FRAME_HW[1]}x{FRAME_HW[0]})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    cli.run(main)
