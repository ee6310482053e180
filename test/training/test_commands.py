"""End to end: `python -m training.train` and `python -m training.evaluate` (both modes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.tiny_training import tiny_overrides

from sameo_core.data.rle import encode
from sameo_core.evaluation.coco_eval import evaluate_masks, load_gt
from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_train_command_tiny_run(tmp_path):
    out = tmp_path / "run"
    _run("training.train", "--config", "config/train_cpu_shapes.yaml", *tiny_overrides(out, 4))
    for name in ("checkpoint.pt", "model_step0.pt", "model_final.pt", "config.yaml", "log.jsonl"):
        assert (out / name).is_file(), name
    assert list((out / "tb").iterdir()), "no TensorBoard events"
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == [1, 2, 3, 4]
    assert any(r["split"] == "val" and "miou_selected" in r for r in records)
    assert build_sameo(checkpoint=out / "model_final.pt").config.img_size == 64


def test_evaluate_command_from_results(tmp_path, synth_gt):
    gt = json.loads(synth_gt.read_text())
    # the amodal GT itself for the first half of the annotations, plus one empty false positive
    results = [{"image_id": a["image_id"], "category_id": 1, "segmentation": a["segmentation"],
                "score": 0.9} for a in gt["annotations"][::2]]
    height, width = results[0]["segmentation"]["size"]
    results.append(dict(results[0], score=0.5, segmentation=encode(np.zeros((height, width)))))
    res_path = tmp_path / "res.json"
    res_path.write_text(json.dumps(results))
    out = tmp_path / "metrics.json"
    proc = _run("training.evaluate", "--gt", str(synth_gt), "--results", str(res_path),
                "--json", str(out), "--plot", str(tmp_path / "pr.png"))
    metrics = json.loads(out.read_text())
    expected = evaluate_masks(load_gt(synth_gt), results).stats
    assert {k: metrics[k] for k in expected} == pytest.approx(expected)
    assert set(metrics) >= {"AP", "AP50", "AP75", "AR100", "occluded", "unoccluded"}
    assert "| all |" in proc.stdout
    assert (tmp_path / "pr.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_command_from_model_and_detections(tmp_path, synth_gt):
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, build_sameo(variant="test"), step=0)
    gt = json.loads(synth_gt.read_text())
    dets = [{"image_id": a["image_id"], "bbox": a["bbox"], "score": 0.5, "category_id": 99}
            for a in gt["annotations"]]
    det_path = tmp_path / "dets.json"
    det_path.write_text(json.dumps(dets))
    out, saved = tmp_path / "m.json", tmp_path / "results.json"
    _run("training.evaluate", "--gt", str(synth_gt), "--detections", str(det_path),
         "--checkpoint", str(ckpt), "--json", str(out), "--save-results", str(saved))
    metrics = json.loads(out.read_text())
    results = json.loads(saved.read_text())
    assert len(results) == len(dets) == metrics["num_results"]
    assert all(r["score"] == pytest.approx(0.5 * r["iou_pred"]) for r in results)
    assert set(metrics["unrefined"]) == {"all", "occluded", "unoccluded"}
    assert metrics["AP"] == pytest.approx(evaluate_masks(load_gt(synth_gt), results).stats["AP"])
