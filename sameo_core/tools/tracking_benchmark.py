"""What the tracker costs per frame at 20 tracks, as a share of the model's time per frame; with
`--baseline`, against another checkout's tracker, side by side, with every output compared.

    python -m sameo_core.tools.tracking_benchmark [--checkpoint CKPT] [--device cuda]
        [--threads N] [--repeats 7] [--frames 30] [--json OUT]
        [--baseline CHECKOUT [--videos ANNOTATIONS [--max-videos N] [--masks gt|model]
                              [--motion static] [--relearn-after N]]]

The frame of `occlusion_benchmark` (640x480, 4 x 3 tiles of procedural scenes, 20 detections =
visible boxes of 20 distinct objects). The model (the demo checkpoint by default) runs the
encoder and both heads on it: its masks feed the tracker, and its time is the model time. The
tracker then runs a stream of frames built from those masks: every odd object moves 1 px per
frame to the right, and each frame withholds 2 objects in turn (a detector miss), which the
tracker re-prompts (`reprompt` answers from the frame's masks, so no decoder time is counted:
`TrackerResult.tracker_s` excludes the re-prompt) — 20 live tracks all along. Model and tracker
are timed in alternation (`repeats` rounds of one model frame and `frames` tracker frames;
machines are shared and noisy, BENCHMARKS.md); medians are reported, with the tracker's p99.
Each tracker frame is timed twice: wall time (`tracker_s`) and the CPU time of the calling
thread (`time.thread_time`, less the thread's time in `reprompt`), which a loaded machine
inflates less. The occlusion order of each frame is computed outside the tracker's time (the
node computes it anyway).

`--baseline CHECKOUT` (another checkout of this project, e.g. made by `git worktree add DIR
COMMIT`): that checkout's `sameo_core/tracking` package (loaded beside ours; it runs on this
checkout's mask and predictor types) gets the same frames as ours. Each frame runs both, in
alternating order (ABBA), each timed as above, and every output of the two is compared: track
ids, states, amodal and visible masks, mask indices, seconds hidden, ages, confidences, classes,
detection ids, occluders, untracked masks, ended tracks, warnings and the boxes re-prompted. An
optimisation of the tracker must change none of them. `--videos` compares the two trackers over
videos with ground truth as `training.evaluate_tracking` plays them (the simulated detector with
its default settings; `--masks gt`: the ground-truth masks of the detected objects, `model`:
SAMEO's, re-prompts decoded on each frame's embedding), with the default TrackerConfig but
`--motion` and `--relearn-after`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import OcclusionOrder, occlusion_order
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.tools.occlusion_benchmark import DEMO, FRAME_HW, scene_frame
from sameo_core.tracking import (
    AmodalTracker,
    DetectionInfo,
    TrackerConfig,
    TrackerResult,
    TrackState,
)

TRACKS = 20
WITHHELD = 2  # objects missing from each frame, in turn
BASELINE_MODULE = "_baseline_sameo_tracking"

Frame = tuple[float, list[InstancePrediction], list[DetectionInfo],
              Callable[[np.ndarray], list[InstancePrediction]]]


def _shifted(m: InstancePrediction, dx: int, index: int) -> InstancePrediction:
    def move(roi: RoiMask | None) -> RoiMask | None:
        return None if roi is None else RoiMask(roi.mask, (roi.offset[0] + dx, roi.offset[1]))
    shift = np.array([dx, 0, dx, 0], np.float32)
    return InstancePrediction(
        index=index, amodal=move(m.amodal), iou=m.iou, score=m.score,
        prompt_box=m.prompt_box + shift, box=m.box + shift, visible=move(m.visible),
        hidden=move(m.hidden), visible_iou=m.visible_iou, visible_fraction=m.visible_fraction)


def tracker_stream(masks: list[InstancePrediction], frames: int, start: int = 0
                   ) -> Iterator[Frame]:
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


# ---- timing one call ----------------------------------------------------------------------
class _TimedReprompt:
    """A `reprompt` that keeps the thread time spent in it and the boxes it was asked."""

    def __init__(self, reprompt: Callable[[np.ndarray], Sequence[InstancePrediction]]) -> None:
        self.reprompt, self.cpu_s, self.boxes = reprompt, 0.0, []

    def __call__(self, boxes: np.ndarray) -> Sequence[InstancePrediction]:
        start = time.thread_time()
        try:
            self.boxes.append(np.array(boxes, copy=True))
            return self.reprompt(boxes)
        finally:
            self.cpu_s += time.thread_time() - start


def timed_update(tracker: Any, stamp: float, masks: Sequence[InstancePrediction],
                 order: OcclusionOrder | None, detections: Sequence[Any],
                 image_size: tuple[int, int],
                 reprompt: Callable[[np.ndarray], Sequence[InstancePrediction]] | None,
                 ) -> tuple[Any, float, float, list[np.ndarray]]:  # fmt: skip
    """(result, wall s, CPU s, re-prompted boxes) of one `tracker.update`; both times without
    the re-prompt (wall: the tracker's own `tracker_s`)."""
    timed = None if reprompt is None else _TimedReprompt(reprompt)
    start = time.thread_time()
    result = tracker.update(stamp, masks, order, detections, image_size, timed)
    cpu = time.thread_time() - start - (timed.cpu_s if timed else 0.0)
    return result, result.tracker_s, max(cpu, 0.0), timed.boxes if timed else []


# ---- the baseline: another checkout's tracker ------------------------------------------------
def load_baseline(checkout: Path) -> ModuleType:
    """The `sameo_core.tracking` package of another checkout, as its own module (its imports of
    the rest of sameo_core resolve to this checkout's)."""
    init = Path(checkout).resolve() / "sameo_core" / "tracking" / "__init__.py"
    if not init.is_file():
        raise ValueError(f"--baseline {checkout}: no sameo_core/tracking package there")
    if init == Path(__file__).resolve().parents[1] / "tracking" / "__init__.py":
        print("note: --baseline is this checkout: both sides run the same code")
    spec = importlib.util.spec_from_file_location(
        BASELINE_MODULE, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[BASELINE_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[BASELINE_MODULE]
        raise
    return module


def _same_roi(a: RoiMask, b: RoiMask) -> bool:
    return (tuple(int(v) for v in a.offset) == tuple(int(v) for v in b.offset)
            and np.array_equal(a.mask, b.mask))  # fmt: skip


def first_difference(ours: TrackerResult, theirs: Any, our_boxes: list[np.ndarray],
                     their_boxes: list[np.ndarray]) -> str | None:
    """The first output in which two trackers' results of one frame differ, None if none."""
    if len(ours.tracks) != len(theirs.tracks):
        return f"{len(ours.tracks)} tracks vs {len(theirs.tracks)}"
    for a, b in zip(ours.tracks, theirs.tracks):
        facts_a = (a.track_id, int(a.state), a.mask_index, a.seconds_hidden, a.age,
                   a.confidence, a.class_id, a.detection_id, tuple(a.occluded_by))
        facts_b = (b.track_id, int(b.state), b.mask_index, b.seconds_hidden, b.age,
                   b.confidence, b.class_id, b.detection_id, tuple(b.occluded_by))
        if facts_a != facts_b:
            return f"track {facts_a} vs {facts_b}"
        if not _same_roi(a.amodal, b.amodal):
            return f"track {a.track_id}: amodal mask differs"
        if not _same_roi(a.visible, b.visible):
            return f"track {a.track_id}: visible mask differs"
    if ours.untracked != theirs.untracked:
        return f"untracked {ours.untracked} vs {theirs.untracked}"
    ended_a = [(i, str(r.value)) for i, r in ours.ended]
    ended_b = [(i, str(r.value)) for i, r in theirs.ended]
    if ended_a != ended_b:
        return f"ended {ended_a} vs {ended_b}"
    if ours.warnings != theirs.warnings:
        return f"warnings {ours.warnings} vs {theirs.warnings}"
    if len(our_boxes) != len(their_boxes) or not all(
        np.array_equal(x, y) for x, y in zip(our_boxes, their_boxes)
    ):
        return "re-prompted boxes differ"
    return None


class Lockstep:
    """Our tracker and the baseline's on the same frames: `update` runs both (alternating which
    goes first), times both, compares their outputs and returns ours (so it can stand in for
    the tracker of `sameo_core.evaluation.tracking.run_video`)."""

    def __init__(self, baseline: ModuleType, ours: AmodalTracker | None = None) -> None:
        self.baseline = baseline
        self.ours = ours or AmodalTracker()
        self.theirs = baseline.AmodalTracker(self.their_config())
        self.frames = 0
        self.tracks = 0
        self.asked: list[np.ndarray] = []
        self.differences: list[str] = []
        self.wall = {"ours": [], "baseline": []}
        self.cpu = {"ours": [], "baseline": []}

    def their_config(self) -> Any:
        """The baseline's TrackerConfig with our settings (of the fields it has)."""
        config = self.baseline.TrackerConfig
        return config(**{f.name: getattr(self.ours.config, f.name) for f in fields(config)})

    def their_detections(self, detections: Sequence[DetectionInfo]) -> list[Any]:
        info = self.baseline.DetectionInfo
        return [info(d.detection_id, d.class_id, d.score) for d in detections]

    def update(self, stamp_s: float, masks: Sequence[InstancePrediction],
               order: OcclusionOrder | None, detections: Sequence[DetectionInfo],
               image_size: tuple[int, int], reprompt: Any = None,
               their_detections: Sequence[Any] | None = None) -> TrackerResult:
        theirs_dets = (self.their_detections(detections) if their_detections is None
                       else their_detections)  # fmt: skip
        sides = [("ours", self.ours, detections), ("baseline", self.theirs, theirs_dets)]
        if self.frames % 2:
            sides.reverse()
        out = {}
        for name, tracker, dets in sides:
            out[name] = timed_update(tracker, stamp_s, masks, order, dets, image_size, reprompt)
            self.wall[name].append(out[name][1])
            self.cpu[name].append(out[name][2])
        ours, theirs = out["ours"], out["baseline"]
        self.asked = ours[3]  # the boxes our tracker re-prompted this frame
        difference = first_difference(ours[0], theirs[0], ours[3], theirs[3])
        if difference is not None:
            self.differences.append(f"frame {self.frames} (stamp {stamp_s:.3f}): {difference}")
        self.frames += 1
        self.tracks += len(ours[0].tracks)
        return ours[0]

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {"frames": self.frames, "tracks_compared": self.tracks,
                               "differences": len(self.differences),
                               "first_differences": self.differences[:5]}
        for clock, times in (("wall", self.wall), ("cpu", self.cpu)):
            if not times["ours"]:
                continue
            ours, theirs = (np.array(times[k]) * 1e3 for k in ("ours", "baseline"))
            row[clock] = {
                "ours_ms": float(np.median(ours)), "baseline_ms": float(np.median(theirs)),
                "ours_p99_ms": float(np.percentile(ours, 99)),
                "baseline_p99_ms": float(np.percentile(theirs, 99)),
                "ours_mean_ms": float(ours.mean()), "baseline_mean_ms": float(theirs.mean()),
                "speedup_of_medians": float(np.median(theirs) / max(np.median(ours), 1e-9)),
                "speedup_of_means": float(theirs.mean() / max(ours.mean(), 1e-9)),
            }
        return row


def compare_on_videos(baseline: ModuleType, annotations: Path, max_videos: int | None,
                      predictor: AmodalPredictor | None, config: TrackerConfig
                      ) -> dict[str, Any]:  # fmt: skip
    """Both trackers in lockstep over the videos (module docstring)."""
    from sameo_core.data.video_dataset import read_video_set
    from sameo_core.evaluation.tracking import run_video

    videos = read_video_set(annotations)[:max_videos]
    if not videos:
        raise ValueError(f"{annotations} holds no video")
    lockstep = Lockstep(baseline, AmodalTracker(config))
    for i, video in enumerate(videos):
        lockstep.ours = AmodalTracker(config)
        lockstep.theirs = baseline.AmodalTracker(lockstep.their_config())
        run_video(video, predictor, seed=i, tracker=lockstep)  # evaluate_tracking's seeds
    return {"annotations": str(annotations), "videos": len(videos),
            "masks": "model" if predictor else "gt", "tracker_config": asdict(config),
            **lockstep.summary()}


# ---- the command --------------------------------------------------------------------------
def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=DEMO)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--frames", type=int, default=30, help="tracker frames per repeat")
    p.add_argument("--baseline", type=Path,
                   help="another checkout: its tracker beside ours, outputs compared")
    p.add_argument("--videos", type=Path,
                   help="with --baseline: also compare on these videos (annotations.json)")
    p.add_argument("--max-videos", type=int, help="the first N videos only")
    p.add_argument("--masks", choices=("gt", "model"), default="gt",
                   help="--videos: ground-truth masks of the detected objects, or SAMEO's")
    p.add_argument("--motion", choices=("constant_velocity", "static"),
                   default=TrackerConfig.motion, help="--videos: the trackers' motion model")
    p.add_argument("--relearn-after", type=int, default=TrackerConfig.relearn_after,
                   help="--videos: the trackers' relearn_after")
    p.add_argument("--json", type=Path)
    return p


def _stats(values_s: list[float]) -> dict[str, float]:
    ms = np.array(values_s) * 1e3
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min())}


def main() -> dict[str, Any]:
    args = get_args_parser().parse_args()
    if not 1 <= args.repeats <= 1000 or not 1 <= args.frames <= 10_000:
        raise ValueError("--repeats must be in [1, 1000] and --frames in [1, 10000]")
    if args.videos is not None and args.baseline is None:
        raise ValueError("--videos needs --baseline (it compares two trackers)")
    if args.max_videos is not None and args.max_videos < 1:
        raise ValueError(f"--max-videos must be ≥ 1, got {args.max_videos}")
    if args.videos is not None:  # a bad setting fails before the model is loaded
        TrackerConfig(motion=args.motion, relearn_after=args.relearn_after)
    baseline = load_baseline(args.baseline) if args.baseline is not None else None
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
    lockstep = Lockstep(baseline, tracker) if baseline is not None else None
    for stamp, shown, dets, reprompt in tracker_stream(masks, 10):  # all 20 tracks started
        (lockstep or tracker).update(stamp, shown, None, dets, FRAME_HW, reprompt)
    if lockstep is not None:  # the warm-up frames are compared, not timed
        for times in (*lockstep.wall.values(), *lockstep.cpu.values()):
            times.clear()
    frame = 10
    model_ms, wall, cpu, live, reprompted = [], [], [], [], 0
    states = {s.name: 0 for s in TrackState}
    for _ in range(args.repeats):
        start = time.perf_counter()
        model_frame()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_ms.append((time.perf_counter() - start) * 1e3)
        # inputs prepared before any timing: the order, the baseline's detection records
        stream = []
        for stamp, shown, dets, reprompt in tracker_stream(masks, args.frames, frame):
            order = occlusion_order([m.amodal for m in shown], [m.visible for m in shown])
            theirs = lockstep.their_detections(dets) if lockstep else None
            stream.append((stamp, shown, order, dets, reprompt, theirs))
        for stamp, shown, order, dets, reprompt, theirs in stream:
            if lockstep is not None:
                result = lockstep.update(stamp, shown, order, dets, FRAME_HW, reprompt, theirs)
                wall.append(lockstep.wall["ours"][-1])
                cpu.append(lockstep.cpu["ours"][-1])
                asked = lockstep.asked
            else:
                result, wall_s, cpu_s, asked = timed_update(tracker, stamp, shown, order, dets,
                                                            FRAME_HW, reprompt)
                wall.append(wall_s)
                cpu.append(cpu_s)
            reprompted += sum(len(b) for b in asked)
            live.append(len(result.tracks))
            for t in result.tracks:
                states[t.state.name] += 1
        frame += args.frames
    median_model = statistics.median(model_ms)
    wall_stats, cpu_stats = _stats(wall), _stats(cpu)
    report: dict[str, Any] = {
        "frame": {"height": FRAME_HW[0], "width": FRAME_HW[1], "tracks": TRACKS,
                  "withheld_per_frame": WITHHELD},
        "checkpoint": str(args.checkpoint), "device": str(device),
        "threads": torch.get_num_threads(), "repeats": args.repeats, "frames": len(wall),
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model_ms": median_model, "tracker_ms": wall_stats["median_ms"],
        "tracker_p99_ms": wall_stats["p99_ms"], "tracker_cpu_ms": cpu_stats["median_ms"],
        "tracker_cpu_p99_ms": cpu_stats["p99_ms"],
        "tracker_share": wall_stats["median_ms"] / median_model,
        "tracker_cpu_share": cpu_stats["median_ms"] / median_model,
        "tracker_wall": wall_stats, "tracker_cpu": cpu_stats,
        "tracks_per_frame": {"min": min(live), "max": max(live)}, "states": states,
        "reprompted_boxes": reprompted,
    }
    print(f"tracker {wall_stats['median_ms']:.2f} ms per frame wall, "
          f"{cpu_stats['median_ms']:.2f} ms CPU (medians; p99 {wall_stats['p99_ms']:.2f} / "
          f"{cpu_stats['p99_ms']:.2f} ms) at {min(live)}-{max(live)} tracks = "
          f"{100 * report['tracker_share']:.1f} % of the model's {median_model:.1f} ms "
          f"(encoder + both heads, {TRACKS} boxes, {FRAME_HW[1]}x{FRAME_HW[0]})")
    if lockstep is not None:
        report["baseline"] = {"checkout": str(args.baseline), **lockstep.summary()}
        _print_comparison("stream", report["baseline"])
    if args.videos is not None:
        config = TrackerConfig(motion=args.motion, relearn_after=args.relearn_after)
        report["videos"] = compare_on_videos(baseline, args.videos, args.max_videos,
                                             predictor if args.masks == "model" else None,
                                             config)
        _print_comparison(f"{report['videos']['videos']} videos, {args.masks} masks",
                          report["videos"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _print_comparison(what: str, row: dict[str, Any]) -> None:
    print(f"baseline vs ours, {what}: {row['frames']} frames, {row['tracks_compared']} tracks "
          f"compared, {row['differences']} frames with a different output")
    for line in row["first_differences"]:
        print(f"  {line}")
    for clock in ("wall", "cpu"):
        if clock in row:
            c = row[clock]
            print(f"  {clock}: baseline {c['baseline_ms']:.3f} ms, ours {c['ours_ms']:.3f} ms "
                  f"(medians; means {c['baseline_mean_ms']:.3f} / {c['ours_mean_ms']:.3f} ms): "
                  f"{c['speedup_of_medians']:.2f}x")


if __name__ == "__main__":
    cli.run(main)
