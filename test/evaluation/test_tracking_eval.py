"""Tracking evaluation: the metrics on known outputs, the tracker on ground-truth masks next to
the baselines, and the two commands end to end (`training.synthesize_video`,
`training.evaluate_tracking`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sameo_core.data.simulated_detector import DetectorConfig
from sameo_core.data.video_dataset import read_video_set, write_video_set
from sameo_core.data.video_scenes import VideoConfig, generate_video, video_seed
from sameo_core.evaluation.tracking import (
    METHODS,
    FrameOutput,
    VideoRun,
    markdown,
    run_video,
    score_method,
)
from sameo_core.evaluation.tracking_baselines import FrameByFrame, IouTracker
from sameo_core.geometry import RoiMask

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt"
CONFIG = VideoConfig(num_frames=100, hide_seconds=(0.4, 0.6), sweeps=1)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    out = tmp_path_factory.mktemp("videos")
    path = write_video_set(out, [generate_video(video_seed(5, i), CONFIG) for i in range(2)])
    return path, read_video_set(path)


def oracle_run(video, relabel=None) -> VideoRun:
    """Outputs equal to the ground truth (ids = GT track ids, optionally changed per frame)."""
    outputs = []
    for frame in video.frames:
        ids = [o.track_id for o in frame.objects]
        if relabel:
            ids = [relabel(frame.frame_index, i) for i in ids]
        outputs.append(FrameOutput(ids, [RoiMask.from_full(o.amodal_mask)
                                         for o in frame.objects]))  # fmt: skip
    return VideoRun(video, {m: outputs for m in METHODS})


def test_perfect_outputs_score_perfectly(videos):
    _, records = videos
    score = score_method([oracle_run(v) for v in records], "tracker")
    assert score["HOTA"] == pytest.approx(1.0) and score["IDF1"] == pytest.approx(1.0)
    assert score["IDSW"] == 0 and score["hidden_frames"] > 0
    assert score["hidden_recall"] == 1.0 and score["hidden_miou"] == pytest.approx(1.0)
    assert score["reappear_events"] >= 1 and score["reappear_same_id"] == 1.0


def test_new_id_after_each_hidden_spell_is_counted(videos):
    _, records = videos
    video = records[0]
    hidden = {(f.frame_index, o.track_id) for f in video.frames for o in f.objects
              if o.fully_hidden}  # fmt: skip
    last = max(f for f, _ in hidden)

    def relabel(f, i):  # every object gets a new id after the last hidden frame
        return i + 1000 if f > last else i
    score = score_method([oracle_run(video, relabel)], "tracker")
    assert score["hidden_recall"] == 1.0 and score["reappear_same_id"] < 1.0
    assert score["IDSW"] >= 1 and score["IDF1"] < 1.0
    dropped = score_method([oracle_run(video, lambda f, i: i + 7 * f)], "tracker")
    assert dropped["hidden_recall"] == 0.0 and dropped["reappear_same_id"] == 0.0


def test_tracker_on_ground_truth_masks_beats_both_baselines(videos):
    _, records = videos
    runs = [run_video(v, None, DetectorConfig(), seed=i) for i, v in enumerate(records)]
    scores = {m: score_method(runs, m) for m in METHODS}
    assert scores["tracker"]["hidden_recall"] >= 0.9
    assert scores["tracker"]["reappear_same_id"] == 1.0
    for baseline in ("frame_by_frame", "iou_tracker"):
        assert scores[baseline]["hidden_recall"] == 0.0
        assert scores["tracker"]["IDF1"] > scores[baseline]["IDF1"] + 0.2
        assert scores["tracker"]["IDSW"] < scores[baseline]["IDSW"]
    table = markdown({"methods": scores})
    assert "hidden recall" in table and "frame_by_frame" in table


def test_baselines():
    ids = FrameByFrame()
    assert ids.update(["a", "", "b"]) == [1, 2, 3]
    assert ids.update(["b", "", "a"]) == [3, 4, 1]
    iou = IouTracker(0.5)
    box = RoiMask.from_full(np.ones((4, 4), bool))
    assert iou.update([box]) == [1]
    assert iou.update([box]) == [1]
    assert iou.update([]) == []
    assert iou.update([box]) == [2]  # no memory: a new id after one missing frame


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_synthesize_and_evaluate_commands(tmp_path):
    if not DEMO.is_file():
        raise FileNotFoundError(f"the demo checkpoint is missing: {DEMO}")
    out = tmp_path / "videos"
    _run("training.synthesize_video", "--out", str(out), "--num-videos", "1", "--seed", "3",
         "--frames", "12", "--sweeps", "0")
    assert len(list((out / "frames" / "video_00000").glob("*.png"))) == 12
    summary_path = tmp_path / "tracking.json"
    proc = _run("training.evaluate_tracking", "--gt", str(out / "annotations.json"),
                "--checkpoint", str(DEMO), "--threads", "1", "--json", str(summary_path))
    summary = json.loads(summary_path.read_text())
    assert summary["frames"] == 12 and set(summary["methods"]) == set(METHODS)
    assert 0.0 <= summary["methods"]["tracker"]["IDF1"] <= 1.0
    assert summary["tracker_ms_per_frame"]["median"] > 0
    assert "| IDF1 |" in proc.stdout and "tracker:" in proc.stdout


def test_commands_refuse_bad_input(tmp_path):
    """User errors are OSError / ValueError, which `cli.run` turns into `error: ...`, exit 2."""
    from training import evaluate_tracking, synthesize_video

    args = evaluate_tracking.get_args_parser().parse_args(
        ["--gt", str(tmp_path / "none.json"), "--masks", "gt"])
    with pytest.raises(FileNotFoundError, match="none.json"):
        evaluate_tracking.run(args)
    path = write_video_set(tmp_path, [generate_video(1, VideoConfig(num_frames=3, sweeps=0))])
    args = evaluate_tracking.get_args_parser().parse_args(["--gt", str(path)])
    with pytest.raises(ValueError, match="--checkpoint is needed"):
        evaluate_tracking.run(args)
    with pytest.raises(ValueError, match="num-videos"):
        synthesize_video.main(["--out", str(tmp_path), "--num-videos", "0", "--seed", "1"])
