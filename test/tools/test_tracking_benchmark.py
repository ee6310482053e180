"""The tracker-cost benchmark runs end to end, alone and against a baseline checkout with every
output compared (figures: BENCHMARKS.md, "Object permanence")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from sameo_core.data.video_dataset import write_video_set
from sameo_core.data.video_scenes import VideoConfig, generate_video, video_seed
from sameo_core.geometry import RoiMask
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.tools import tracking_benchmark
from sameo_core.tools.occlusion_benchmark import DEMO, FRAME_HW
from sameo_core.tracking import AmodalTracker, DetectionInfo

REPO = Path(__file__).resolve().parents[2]


def test_tracking_benchmark_reports_cost_at_20_tracks(tmp_path, monkeypatch):
    if not DEMO.is_file():
        raise FileNotFoundError(f"the demo checkpoint is missing: {DEMO}")
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["tracking_benchmark", "--repeats", "2", "--frames", "3",
                                      "--threads", "1", "--json", str(out)])
    report = tracking_benchmark.main()  # a second round re-runs the model on the same boxes
    assert report["frames"] == 2 * 3
    assert json.loads(out.read_text())["tracks_per_frame"] == report["tracks_per_frame"]
    assert report["tracks_per_frame"]["max"] == tracking_benchmark.TRACKS
    assert report["tracker_ms"] > 0 and 0 < report["tracker_share"] < 1
    assert report["tracker_cpu_ms"] > 0 and report["tracker_cpu"]["p99_ms"] > 0
    assert report["reprompted_boxes"] > 0  # withheld objects were re-prompted
    assert "baseline" not in report


def test_against_a_baseline_checkout_every_output_is_compared(tmp_path, monkeypatch):
    """This checkout as its own baseline (loaded as a second package): the stream and a video
    with ground-truth masks are compared frame by frame, both sides timed."""
    if not DEMO.is_file():
        raise FileNotFoundError(f"the demo checkpoint is missing: {DEMO}")
    config = VideoConfig(num_frames=40, hide_seconds=(0.3, 0.5), sweeps=1)
    annotations = write_video_set(tmp_path / "videos", [generate_video(video_seed(3, 0), config)])
    monkeypatch.setattr(sys, "argv", [
        "tracking_benchmark", "--repeats", "1", "--frames", "4", "--threads", "1",
        "--baseline", str(REPO), "--videos", str(annotations), "--masks", "gt"])
    report = tracking_benchmark.main()
    stream, videos = report["baseline"], report["videos"]
    assert stream["frames"] == 10 + 4 and stream["tracks_compared"] > 10 * 18
    assert videos["frames"] == 40 and videos["tracks_compared"] > 0
    assert stream["differences"] == 0 and videos["differences"] == 0
    for row in (stream, videos):
        assert row["wall"]["ours_ms"] > 0 and row["cpu"]["baseline_ms"] > 0


def test_a_different_output_is_found():
    """`first_difference` names what differs: a track one side lacks, a mask elsewhere."""
    squares, dets = [_square(k) for k in range(3)], [DetectionInfo("", "shape", 0.9)] * 3
    one, other = AmodalTracker(), AmodalTracker()
    a = one.update(0.0, squares, None, dets, FRAME_HW)
    assert tracking_benchmark.first_difference(a, a, [], []) is None
    b = other.update(0.0, squares[:2], None, dets[:2], FRAME_HW)
    assert tracking_benchmark.first_difference(a, b, [], []) == "3 tracks vs 2"
    moved = [_square(0, dx=1), *squares[1:]]
    assert tracking_benchmark.first_difference(
        AmodalTracker().update(0.0, moved, None, dets, FRAME_HW), a, [], [],
    ) == "track 1: amodal mask differs"
    boxes = [np.zeros((1, 4))]
    assert tracking_benchmark.first_difference(a, a, boxes, []) == "re-prompted boxes differ"


def _square(k: int, dx: int = 0) -> InstancePrediction:
    roi = RoiMask(np.ones((20, 20), bool), (40 * k + 10 + dx, 30))
    box = roi.box().astype(np.float32)
    return InstancePrediction(index=k, amodal=roi, iou=0.9, score=0.9, prompt_box=box, box=box,
                              visible=roi, hidden=RoiMask.empty(), visible_iou=0.9,
                              visible_fraction=1.0)
