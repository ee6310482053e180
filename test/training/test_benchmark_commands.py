"""End to end: the proof-of-learning table and the embedding-cache benchmark commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_proof_of_learning_table(tmp_path, synth_gt):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "untrained.pt", build_sameo("test"))
    trained = REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt"
    _run("training.proof_of_learning", "--gt", str(synth_gt), "--trained", str(trained),
         "--untrained", str(tmp_path / "untrained.pt"), "--json", str(tmp_path / "pol.json"),
         "--markdown", str(tmp_path / "pol.md"))
    table = (tmp_path / "pol.md").read_text()
    for row in ("SAMEO trained", "before training", "visible mask as amodal", "fill the prompt"):
        assert row in table
    rows = json.loads((tmp_path / "pol.json").read_text())["rows"]
    assert set(rows) == {"amodal box", "visible box"}
    for predictors in rows.values():
        assert predictors["SAMEO trained"]["occluded"]["count"] == 4
        assert 0.0 <= predictors["SAMEO trained"]["occluded"]["mIoU"] <= 1.0


def test_embedding_cache_benchmark(tmp_path, synth_gt):
    out = tmp_path / "cache.json"
    proc = _run("training.bench_embedding_cache", "--source", f"amodal_coco:{synth_gt}",
                "--variant", "test", "--images", "2", "--steps", "2", "--batch-size", "2",
                "--json", str(out))
    report = json.loads(out.read_text())
    assert report["variant"] == "test" and report["steps"] == 2
    assert report["s_per_step_computed"] > 0 and report["s_per_step_cached"] > 0
    assert report["speedup"] == report["s_per_step_computed"] / report["s_per_step_cached"]
    assert "speed" in proc.stdout.lower()
