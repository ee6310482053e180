"""End-to-end runs of the sameo_core commands: the image demo and the benchmark."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint


def test_demo_writes_overlay_and_rle_masks(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", build_sameo("test"))
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.image_demo",
         "--checkpoint", str(tmp_path / "tiny.pt"), "--prompt", "visible", "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    results = json.loads((out / "masks.json").read_text())
    assert len(results) == 6  # the six annotated objects of cocoa_demo/5.jpg
    overlay = cv2.imread(str(out / "overlay.png"))
    assert overlay.shape == (480, 640, 3)
    for result in results:
        mask = mask_utils.decode(result["segmentation"])
        assert mask.shape == overlay.shape[:2]
        assert np.isfinite(result["score"])
    assert "6 masks (visible boxes)" in proc.stdout


def test_demo_on_a_cluttered_scene_draws_visible_hidden_parts_and_the_order(tmp_path):
    from sameo_core.tools.image_demo import scene_objects

    demo = Path(__file__).resolve().parents[2] / "checkpoints" / "demo" / "sameo_shapes_demo.pt"
    out = tmp_path / "scene"
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.image_demo", "--checkpoint", str(demo),
         "--scene", "3", "--prompt", "visible", "--out", str(out)],
        check=True, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip
    rgb, objects = scene_objects(3)
    assert rgb.shape == (480, 640, 3) and len(objects) >= 5
    assert sum(o.occlusion_rate > 0 for o in objects) >= 2
    results = json.loads((out / "masks.json").read_text())
    assert len(results) == len(objects)
    overlay = cv2.imread(str(out / "overlay.png"))
    assert overlay.shape == (480, 640, 3) and not np.array_equal(overlay[:, :, ::-1], rgb)
    assert "occlusion order, front to back (rank: index ...): r0:" in proc.stdout
    assert f"{len(objects)} masks (visible boxes)" in proc.stdout
    refused = subprocess.run([sys.executable, "-m", "sameo_core.tools.image_demo", "--scene",
                              "-1", "--out", str(out)], capture_output=True, text=True)
    assert refused.returncode == 2 and "--scene must be a seed" in refused.stderr


def test_benchmark_prints_and_writes_json(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.inference_benchmark", "--variant", "test",
         "--repeats", "1", "--decoder-boxes", "1", "5", "--sync-boxes", "1", "5",
         "--frame-sizes", "160x120", "80x60",
         "--precision-scenes", "2", "--baseline", str(root),
         "--json", str(tmp_path / "bench.json")],
        check=True, capture_output=True, text=True,
    )
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["heads"] == ["amodal", "modal"]  # random weights: both heads, as the node
    assert [row["boxes"] for row in report["decoder"]] == [1, 5]
    frame = report["frame_720p_20_boxes"]
    assert frame["ours_ms"] > 0 and frame["official_ms"] > 0
    assert frame["ratio_ours_over_official"] == frame["ours_ms"] / frame["official_ms"]
    assert "ratio" in proc.stdout
    syncs = report["syncs_per_predict"]
    assert [row["boxes"] for row in syncs] == [1, 5]
    for row in syncs:  # the old per-box path syncs per box; the batched one twice per predict
        assert row["batched"]["syncs"] == 2 and row["roi"]["syncs"] > 4 * row["boxes"]
    assert syncs[1]["batched"]["ops"] == syncs[0]["batched"]["ops"]
    assert "syncs/ops per predict" in proc.stdout
    paths = report["postprocess_paths"]
    assert [(row["height"], row["width"]) for row in paths] == [(120, 160), (60, 80)]
    for row in paths:
        assert row["batched_over_roi"] == row["batched_predict_ms"] / row["roi_predict_ms"]
        assert row["roi_postprocess_ms"] > 0 and row["batched_postprocess_ms"] > 0
    agreement = report["bfloat16_agreement"]
    assert agreement["noise_frames"]["masks"] == 2 * 20 and agreement["scenes"]["masks"] >= 4
    assert 0 <= agreement["scenes"]["visible_iou_min"] <= agreement["scenes"]["visible_iou_mean"]
    baseline = report["against_baseline"]
    assert baseline["baseline_sameo_core"].startswith(str(root))
    assert baseline["ours_sameo_core"].startswith(str(root))
    assert len(baseline["rows"]) == 2
    for row in baseline["rows"]:
        assert row["ours_over_baseline"] == row["ours_ms"] / row["baseline_ms"]
        assert row["min_ratio"] == row["ours_min_ms"] / row["baseline_min_ms"]
        assert row["paired_ratio_median"] > 0


def test_benchmark_refuses_a_baseline_that_is_no_checkout(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.inference_benchmark", "--variant", "test",
         "--repeats", "1", "--sync-boxes", "1", "--baseline", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "no sameo_core checkout" in proc.stderr


def test_occlusion_benchmark_prints_and_writes_json(tmp_path):
    demo = Path(__file__).resolve().parents[2] / "checkpoints" / "demo" / "sameo_shapes_demo.pt"
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.occlusion_benchmark", "--checkpoint", str(demo),
         "--variant", "test", "--repeats", "1", "--json", str(tmp_path / "occ.json")],
        check=True, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    report = json.loads((tmp_path / "occ.json").read_text())
    assert report["frame"] == {"height": 480, "width": 640, "detections": 20}
    assert [row["model"] for row in report["rows"]] == [str(demo), "test (random weights)"]
    for row in report["rows"]:
        ms = row["median_ms"]
        assert row["model_ms"] == ms["encoder"] + ms["decoder_amodal"]
        assert row["extra_ms"] == ms["decoder_both"] - ms["decoder_amodal"] + ms["order"]
        assert row["extra_share"] == row["extra_ms"] / row["model_ms"]
        assert row["related_pairs"] >= row["decided_pairs"] >= 0
    assert "of model time" in proc.stdout


def test_occlusion_benchmark_frame_has_twenty_visible_boxes():
    from sameo_core.tools.occlusion_benchmark import scene_frame

    image, boxes = scene_frame()
    assert image.shape == (480, 640, 3) and boxes.shape == (20, 4)
    assert (boxes[:, 2:] > boxes[:, :2]).all() and (boxes[:, 2:] <= [640, 480]).all()
