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


def test_prompt_ablation_table(tmp_path, synth_gt, capsys):
    """Table 5 at toy scale: three trainings (amodal / modal / random GT boxes), each evaluated
    with amodal and modal front-end boxes, averaged; finished runs are reused."""
    import yaml
    from helpers.tiny_training import tiny_overrides

    from training.ablation_prompts import main

    config = str(REPO / "config" / "train_cpu_shapes.yaml")
    argv = ["--gt", str(synth_gt), "--out", str(tmp_path / "abl"), "--config", config,
            "--json", str(tmp_path / "t5.json"), "--markdown", str(tmp_path / "t5.md"),
            *tiny_overrides(tmp_path / "ignored", 2)]  # fmt: skip
    report = main(argv)
    assert list(report["table5"]) == ["amodal", "modal", "random"]
    for variant, probability in (("amodal", 1.0), ("modal", 0.0), ("random", 0.5)):
        run = yaml.safe_load((tmp_path / "abl" / variant / "config.yaml").read_text())
        assert run["data"]["prompt_amodal_prob"] == probability and run["run"]["steps"] == 2
        rows = report["rows"][variant]
        assert set(rows) == {"amodal", "modal"}
        for metric in ("AP", "AP50", "AP75", "AR100"):
            mean = (rows["amodal"][metric] + rows["modal"][metric]) / 2
            assert report["table5"][variant][metric] == mean
    table = (tmp_path / "t5.md").read_text().splitlines()
    assert table[0] == "| box prompt in training | AP | AP50 | AP75 | AR |"
    assert [line.split("|")[1].strip() for line in table[2:5]] == ["amodal", "modal", "random"]
    assert json.loads((tmp_path / "t5.json").read_text())["table5"] == report["table5"]
    capsys.readouterr()
    again = main([*argv[:6], *argv[10:], "--variants", "random"])
    assert capsys.readouterr().out.count("reusing the finished run") == 1
    assert again["table5"]["random"] == report["table5"]["random"]


def test_front_end_jitter_moves_boxes_inside_the_image(synth_gt):
    from sameo_core.evaluation.coco_eval import load_gt
    from training.ablation_prompts import front_end_prompts

    gt = load_gt(synth_gt)
    exact = front_end_prompts(gt, "modal", 0.0, 0)
    moved = front_end_prompts(gt, "modal", 0.1, 0)
    assert [p.ann_id for p in exact] == [p.ann_id for p in moved]
    assert any(a.box != b.box for a, b in zip(exact, moved))
    assert front_end_prompts(gt, "modal", 0.1, 0) == moved  # seeded
    for p in moved:
        x0, y0, x1, y1 = p.box
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
