"""End to end: the main job (`python -m sameo_ros.harness.node_demo`, what `make demo` runs) and
the benchmarks of BENCHMARKS.md "ROS node", each as a user runs it, in a fresh process against
the built workspace (small sizes: the commands, not the figures, are under test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2

from .conftest import REPO, demo_checkpoint


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_demo_streams_frames_and_writes_overlays(tmp_path):
    out = tmp_path / "demo"
    proc = _run("sameo_ros.harness.node_demo", "--checkpoint", str(demo_checkpoint()),
                "--frames", "4", "--out", str(out))  # fmt: skip
    figures = json.loads((out / "figures.json").read_text())
    assert figures["frames"] == 4 and figures["lost"] == 0
    assert 0 < figures["model_ms_p50"] < figures["latency_ms_p50"]
    overlays = sorted(out.glob("overlay_*.png"))
    assert len(overlays) == 4
    assert cv2.imread(str(overlays[0])).shape == (480, 640, 3)  # the demo's 640x480 scenes
    assert "latency p50" in proc.stdout and "fps" in proc.stdout
    # scored against the scenes' truth: the demo model gets more than half of it right
    assert figures["order_pairs"] >= 2 and figures["order_right"] > figures["order_pairs"] / 2
    assert figures["visible_miou"] > 0.5 and "occlusion order right on" in proc.stdout
    # the tracking sequence: an object fully hidden, kept with its id and mask, back with it
    tracking = figures["tracking"]
    assert tracking["answered"] == tracking["frames"]
    assert tracking["reported_hidden"] == tracking["hidden_frames"] >= 10
    assert tracking["back_with_same_id_at"] is not None and tracking["hidden_amodal_miou"] > 0.5
    assert cv2.imread(str(out / "tracking_sheet.png")) is not None
    assert len(list(out.glob("tracking_*.png"))) == tracking["frames"] + 1
    assert "tracking (tracking_sheet.png): fully hidden" in proc.stdout


def test_node_benchmark_compares_arms_side_by_side(tmp_path):
    report = tmp_path / "bench.json"
    _run("sameo_ros.harness.node_benchmark", "--checkpoint", str(demo_checkpoint()),
         "--frames", "2", "--warmup", "1", "--detections", "5", "--width", "320",
         "--height", "240", "--arm", "chunk4", "--arm", "chunk2:chunk_size=2",
         "--arm-env", "chunk2:SAMEO_ARM=two", "--library-threads", "1",
         "--library-threads", "1w", "--json", str(report))  # fmt: skip
    figures = json.loads(report.read_text())
    assert figures["image"] == "320x240"
    for library in ("library_t1", "library_t1w"):  # the library's predictor, same frames
        assert figures[f"{library}/frames"] == 2 and figures[f"{library}/masks_per_frame"] == 5
        assert figures[f"{library}/model_ms_p50"] > 0
        assert figures[f"chunk4/model_ms_p50 / {library}"] > 0
    for arm in ("chunk4", "chunk2"):
        assert figures[f"{arm}/frames"] == 2 and figures[f"{arm}/masks_per_frame"] == 5
        outside = figures[f"{arm}/outside_model_ms_p50"]
        assert 0 < outside < figures[f"{arm}/latency_ms_p50"]
        assert figures[f"{arm}/transport_ms_p50"] > 0
        assert figures[f"{arm}/client_encode_ms_p50"] > 0


def test_message_costs_compare_rclpy_and_rosbags(tmp_path):
    report = tmp_path / "costs.json"
    proc = _run("sameo_ros.harness.message_costs", "--detections", "4", "--width", "160",
                "--height", "120", "--rounds", "2", "--calls", "1", "--json", str(report))
    figures = json.loads(report.read_text())
    assert figures["image_bytes"] > 160 * 120 * 3 and figures["detections"] == 4
    for group in ("image_in", "detections_in", "masks_out"):
        for way in ("rclpy", "rosbags"):
            assert figures[f"{group}_{way}_ms"] > 0, (group, way)
    assert "per_frame_rclpy_minus_rosbags_ms" in proc.stdout


def test_service_benchmark_times_first_and_repeated_calls(tmp_path):
    report = tmp_path / "service.json"
    _run("sameo_ros.harness.service_benchmark", "--variant", "test", "--rounds", "2",
         "--detections", "3", "--width", "160", "--height", "120", "--json", str(report))
    figures = json.loads(report.read_text())
    assert len(figures["first_call_ms"]) == len(figures["repeat_call_ms"]) == 2
    assert figures["first_call_ms_p50"] > 0 and figures["repeat_call_ms_p50"] > 0
    assert figures["speedup_repeat_vs_first"] > 0


def test_cameras_benchmark_compares_one_node_with_a_node_per_camera(tmp_path):
    report = tmp_path / "cameras.json"
    _run("sameo_ros.harness.cameras_benchmark", "--variant", "test", "--cameras", "2",
         "--rate", "4", "--seconds", "2", "--rounds", "1", "--encoder-rounds", "1",
         "--detections", "2", "--width", "96", "--height", "96", "--timeout", "60",
         "--json", str(report))  # fmt: skip
    figures = json.loads(report.read_text())
    assert figures["round0/one_node/processes"] == 1 and figures["round0/n_nodes/processes"] == 2
    for setup in ("one_node", "n_nodes"):
        assert figures[f"round0/{setup}/rss_mb"] > 0
        for camera in ("cam0", "cam1"):
            assert figures[f"round0/{setup}/{camera}/fps"] > 0
            assert figures[f"round0/{setup}/{camera}/latency_ms_p50"] > 0
    assert 0 < figures["round0/rss_one_over_n"] < 1  # one process holds less than two
    assert figures["encoder_speedup"] > 0
