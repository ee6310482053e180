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
    breakdown_markdown,
    gt_predictions,
    markdown,
    mask_quality,
    noise_table,
    reappear_breakdown,
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
    # the breakdown names the cause: a new id on return (carried to the end), or lost while hidden
    returned = reappear_breakdown(score["reappear_detail"], [video])
    events = returned["groups"]["all"]["events"]
    failed = round(events * (1 - score["reappear_same_id"]))
    assert events == score["reappear_events"] and returned["groups"]["all"]["failed"] == failed
    assert returned["failed"]["carried, not reported on return"] == failed >= 1
    assert returned["failed"]["lost while hidden: not reported"] == 0
    lost = reappear_breakdown(dropped["reappear_detail"], [video])
    assert lost["failed"]["lost while hidden: not reported"] == events
    groups = lost["groups"]
    assert groups["static"]["events"] + groups["moving"]["events"] == events
    assert "| lost while hidden: not reported | " in breakdown_markdown(lost)
    perfect = score_method([oracle_run(video)], "tracker")
    assert sum(reappear_breakdown(perfect["reappear_detail"], [video])["failed"].values()) == 0


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


def test_mask_noise_zero_is_the_gt_run_and_noise_lowers_the_miou(videos):
    """`mask_noise=0` plays exactly the `--masks gt` run; K > 0 perturbs the masks (seeded) and
    lowers their mIoU with the ground truth."""
    _, records = videos
    video = records[0]
    plain = run_video(video, None, DetectorConfig(), seed=3)
    zero = run_video(video, None, DetectorConfig(), seed=3, mask_noise=0)
    for a, b in zip(plain.outputs["tracker"], zero.outputs["tracker"]):
        assert a.ids == b.ids and a.states == b.states
        assert all(np.array_equal(x.mask, y.mask) and x.offset == y.offset
                   for x, y in zip(a.amodal, b.amodal))  # fmt: skip
    assert score_method([plain], "tracker") == score_method([zero], "tracker")
    clean = mask_quality([zero])
    assert clean["masks"] > 100 and clean["occluded"] > 10
    assert clean["amodal_mIoU"] == pytest.approx(1.0) and clean["visible_mIoU_occluded"] == 1.0
    noisy = [run_video(video, None, DetectorConfig(), seed=3, mask_noise=2) for _ in range(2)]
    assert [o.ids for o in noisy[0].outputs["tracker"]] == [
        o.ids for o in noisy[1].outputs["tracker"]]  # seeded
    quality = mask_quality(noisy[:1])
    assert quality["amodal_mIoU"] < 0.95 and quality["visible_mIoU_occluded"] < 0.95
    assert quality["amodal_mIoU"] > 0.3
    table = noise_table([{"label": "GT, K = 2 px", "masks": quality,
                          "tracker": score_method(noisy[:1], "tracker")}])
    assert "| GT, K = 2 px | " in table and "hidden recall" in table
    with pytest.raises(ValueError, match="noise"):
        run_video(video, None, DetectorConfig(), mask_noise=-1)


def test_noisy_gt_masks_keep_visible_inside_amodal(videos):
    _, records = videos
    frame = next(f for f in records[0].frames
                 if any(0 < o.visible_mask.sum() < o.amodal_mask.sum() for o in f.objects))
    objects = [o for o in frame.objects if o.visible_mask.any()]
    boxes = np.stack([RoiMask.from_full(o.visible_mask).box() for o in objects]).astype(float)
    h, w = records[0].height, records[0].width
    rng = np.random.default_rng(0)
    masks = gt_predictions(boxes, [1.0] * len(boxes), objects, h, w, 3, rng)
    assert masks
    for m in masks:
        assert not (m.visible.paste(h, w) & ~m.amodal.paste(h, w)).any()
    changed = [not np.array_equal(m.amodal.paste(h, w), objects[m.index].amodal_mask)
               for m in masks]  # fmt: skip
    assert any(changed)
    with pytest.raises(ValueError, match="random generator"):
        gt_predictions(boxes, [1.0] * len(boxes), objects, h, w, 1)


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
    assert summary["mask_quality"]["masks"] > 0 and "detected masks: amodal mIoU" in proc.stdout
    noise_path = tmp_path / "noise.json"
    proc = _run("training.evaluate_tracking", "--gt", str(out / "annotations.json"),
                "--masks", "gt", "--noise", "0", "2", "--json", str(noise_path))
    rows = json.loads(noise_path.read_text())["rows"]
    assert [r["k"] for r in rows] == [0, 2] and "| GT, K = 2 px |" in proc.stdout
    assert rows[0]["masks"]["amodal_mIoU"] > rows[1]["masks"]["amodal_mIoU"]


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
    for bad, message in ((["--noise", "1"], "use it with --masks gt"),
                         (["--masks", "gt", "--noise", "0", "-1"], "must be in 0..16"),
                         (["--masks", "gt", "--noise", "17"], "must be in 0..16"),
                         (["--masks", "gt", "--min-completeness", "0"], "min_completeness")):
        args = evaluate_tracking.get_args_parser().parse_args(["--gt", str(path), *bad])
        with pytest.raises(ValueError, match=message):
            evaluate_tracking.run(args)
    with pytest.raises(ValueError, match="num-videos"):
        synthesize_video.main(["--out", str(tmp_path), "--num-videos", "0", "--seed", "1"])
