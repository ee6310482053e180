"""`training.train` runs: exact resume, DDP on two CPU processes (gloo), stop on a NaN loss."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from helpers.tiny_training import tiny_overrides

from sameo_core.model import build_sameo
from sameo_core.training.losses import SameoCriterion
from training.train import get_args_parser, main

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config" / "train_cpu_shapes.yaml")


def _train(out: Path, steps: int, *extra: str, resume: Path | None = None) -> int:
    argv = ["--config", CONFIG, *tiny_overrides(out, steps), *extra]
    if resume is not None:
        argv += ["--resume", str(resume)]
    return main(get_args_parser().parse_args(argv))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def test_resume_is_exact(tmp_path):
    torch.set_num_threads(1)
    assert _train(tmp_path / "once", 6) == 0
    assert _train(tmp_path / "split", 3) == 0
    half = tmp_path / "split" / "checkpoint.pt"
    assert torch.load(half, weights_only=True)["step"] == 3
    assert _train(tmp_path / "split", 6, resume=half) == 0
    once, split = _weights(tmp_path / "once" / "model_final.pt"), _weights(
        tmp_path / "split" / "model_final.pt")
    assert once.keys() == split.keys()
    assert all(torch.equal(once[k], split[k]) for k in once)
    start = _weights(tmp_path / "once" / "model_step0.pt")
    assert any(not torch.equal(once[k], start[k]) for k in once)  # it did train
    assert build_sameo(checkpoint=tmp_path / "once" / "model_final.pt").config.img_size == 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "training.train", "--config", CONFIG, *tiny_overrides(out, 3)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 3
    assert state["sameo"]["train_config"]["optim"]["batch_size"] == 4  # 2 instances per rank
    log = (out / "log.jsonl").read_text()
    assert '"split": "train"' in log


def test_ddp_ranks_share_the_dataset_of_each_step(tmp_path, synth_gt):
    """Two gloo processes: at every step both ranks draw from the same dataset (paper 4.3: one
    dataset per batch), each its own images of it, and the dataset changes between steps."""
    out, steps = tmp_path / "choice.json", 12
    specs = [f"{fmt}:{synth_gt}" for fmt in ("amodal_coco", "cocoa_cls", "d2sa")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           str(REPO / "test" / "helpers" / "ddp_dataset_choice.py"), str(out), str(steps),
           *specs]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    for step, (rank0, rank1) in enumerate(report["datasets"]):
        assert len(rank0) == 1 and rank0 == rank1, (step, rank0, rank1)
    assert len({ranks[0][0] for ranks in report["datasets"]}) >= 2  # not a constant choice
    assert any(k0 != k1 for k0, k1 in report["keys"])  # each rank its own images


class _NanCriterion(SameoCriterion):
    def forward(self, logits, iou_pred, targets, others=None):
        terms = super().forward(logits, iou_pred, targets, others)
        return dict(terms, loss_dice=terms["loss_dice"] * float("nan"))


def test_non_finite_loss_stops_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("training.train.SameoCriterion", _NanCriterion)
    assert _train(tmp_path / "nan", 4) == 1
    assert "stopping: loss is nan at step 0" in capsys.readouterr().err
    assert not (tmp_path / "nan" / "model_final.pt").exists()
