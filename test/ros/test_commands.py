"""End to end: the main job (`python -m sameo_ros.demo`, what `make demo` runs), the node
benchmark and the message-cost benchmark, each as a user runs it, in a fresh process against the
built workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[2]
DEMO_CHECKPOINT = REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt"


def _run(*args: str) -> subprocess.CompletedProcess:
    if not DEMO_CHECKPOINT.is_file():
        raise FileNotFoundError(f"demo checkpoint missing: {DEMO_CHECKPOINT}")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_demo_streams_frames_and_writes_overlays(tmp_path):
    out = tmp_path / "demo"
    proc = _run("sameo_ros.demo", "--checkpoint", str(DEMO_CHECKPOINT), "--frames", "3",
                "--out", str(out))
    figures = json.loads((out / "figures.json").read_text())
    assert figures["frames"] == 3 and figures["lost"] == 0
    assert 0 < figures["model_ms_p50"] < figures["latency_ms_p50"]
    overlays = sorted(out.glob("overlay_*.png"))
    assert len(overlays) == 3
    assert cv2.imread(str(overlays[0])).shape == (256, 256, 3)
    assert "latency p50" in proc.stdout and "fps" in proc.stdout


def test_benchmark_writes_figures(tmp_path):
    report = tmp_path / "bench.json"
    _run("sameo_ros.benchmark", "--checkpoint", str(DEMO_CHECKPOINT), "--frames", "3",
         "--warmup", "1", "--detections", "5", "--json", str(report))
    figures = json.loads(report.read_text())
    assert figures["frames"] == 3 and figures["masks_per_frame"] == 5
    assert figures["image"] == "640x480"
    outside = figures["outside_model_ms_p50"]
    assert 0 < outside < figures["latency_ms_p50"]
    assert figures["transport_ms_p50"] > 0
    assert figures["client_encode_ms_p50"] > 0 and figures["client_decode_ms_p50"] > 0


def test_bench_wire_compares_the_three_codecs(tmp_path):
    report = tmp_path / "wire.json"
    proc = _run("sameo_ros.bench_wire", "--detections", "4", "--width", "160", "--height", "120",
                "--rounds", "2", "--calls", "1", "--json", str(report))
    figures = json.loads(report.read_text())
    assert figures["image_bytes"] > 160 * 120 * 3 and figures["detections"] == 4
    for group, ways in [("detections_in", ("rclpy", "rosbags", "frame_cdr")),
                        ("image_in", ("rclpy", "rosbags", "frame_cdr")),
                        ("masks_out", ("rclpy_serialize_only", "rosbags", "frame_cdr"))]:
        for way in ways:
            assert figures[f"{group}_{way}_ms"] > 0, (group, way)
    assert "masks_out_frame_cdr_ms" in proc.stdout
