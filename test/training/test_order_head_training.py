"""Training the pairwise order head: labels from the generator's layer order, the symmetries of the
input, a head that learns the order of clean masks, and the `training.train_order_head` and
`training.export_checkpoint --order-head` commands end to end (the other weights bit-identical)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from sameo_core.data.procedural_scenes import generate_scene
from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import read_checkpoint, save_checkpoint
from sameo_core.model.order_head import ORDER_PREFIX, OrderHead
from sameo_core.training.order_head_training import (
    OrderDataConfig,
    OrderOptimConfig,
    OrderTrainConfig,
    cache_scenes,
    dihedral,
    pair_accuracy,
    train_head,
)

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_sameo("test", modal_head=True)


def test_cache_labels_follow_the_generators_layer_order(tiny_model):
    data = OrderDataConfig(scenes=6, seed=5, image_size=64, box_jitter=0.0)
    entries = cache_scenes(tiny_model, data)
    assert entries and sum(len(e["labels"]) for e in entries) > 0
    scene_config = data.scene_config()
    k = 0
    for entry in entries:  # replay the scenes that had two prompted instances
        while True:
            _, instances = generate_scene(np.random.default_rng([data.seed, k]), scene_config)
            k += 1
            keep = [n for n, inst in enumerate(instances) if inst.visible_mask.any()]
            if len(keep) >= 2:
                break
        n = len(keep)
        assert entry["amodal"].shape[0] == n and entry["boxes"].shape == (n, 4)
        assert entry["amodal"].dtype == torch.float16
        for (i, j), label in zip(entry["pairs"].tolist(), entry["labels"].tolist()):
            assert i < j
            front, back = (i, j) if label == 1.0 else (j, i)
            assert keep[front] in instances[keep[back]].occluded_by


def test_dihedral_gives_the_eight_symmetries():
    patch = torch.arange(16.0).reshape(1, 1, 4, 4)
    images = {tuple(dihedral(patch, k).flatten().tolist()) for k in range(8)}
    assert len(images) == 8
    assert torch.equal(dihedral(patch, 4), patch.transpose(-1, -2))


def _clean_pairs(count: int, seed: int):
    """Patches of two overlapping squares with exact masks: the front one sees the overlap."""
    rng = np.random.default_rng(seed)
    head = OrderHead()
    patches, labels = [], []
    for _ in range(count):
        amodal = torch.full((2, 32, 32), -10.0)
        boxes = []
        for k in range(2):
            x, y = rng.integers(0, 18, 2)
            s = int(rng.integers(8, 14))
            amodal[k, y : y + s, x : x + s] = 10.0
            boxes.append([x * 4, y * 4, (x + s) * 4, (y + s) * 4])
        front = int(rng.integers(2))
        visible = amodal.clone()
        visible[1 - front][(amodal[front] > 0)] = -10.0
        if not ((amodal[0] > 0) & (amodal[1] > 0)).any():
            continue
        pooled = head.patches(amodal, visible, torch.tensor(boxes, dtype=torch.float32),
                              (128, 128), torch.tensor([[0, 1]]))  # fmt: skip
        patches.append(pooled)
        labels.append(float(front == 0))
    return torch.cat(patches), torch.tensor(labels)


def test_head_learns_the_order_of_clean_masks():
    torch.set_num_threads(1)
    patches, labels = _clean_pairs(300, 0)
    held_patches, held_labels = _clean_pairs(100, 1)
    records = []
    head = train_head(patches, labels, OrderOptimConfig(steps=150, batch_size=64, lr=3e-3), 0,
                      held_patches, held_labels, records.append, log_every=150)  # fmt: skip
    assert pair_accuracy(head, held_patches, held_labels) >= 0.9, records
    assert records[-1]["step"] == 150
    with pytest.raises(ValueError, match="no labelled pair"):
        train_head(patches[:0], labels[:0], OrderOptimConfig(steps=1), 0)


def test_config_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="order-head config: unknown keys"):
        OrderTrainConfig.from_dict({"stpes": 3})
    with pytest.raises(ValueError, match="data: unknown keys"):
        OrderTrainConfig.from_dict({"data": {"scene": 3}})
    with pytest.raises(TypeError, match="optim.steps"):
        OrderTrainConfig.from_dict({"optim": {"steps": "many"}})
    with pytest.raises(ValueError, match="data.scenes"):
        OrderDataConfig(scenes=0)
    with pytest.raises(ValueError, match="optim.lr"):
        OrderOptimConfig(lr=float("nan"))


def test_train_and_export_commands(tmp_path, tiny_model):
    save_checkpoint(tmp_path / "frozen.pt", tiny_model)
    config = tmp_path / "order.yaml"
    config.write_text(yaml.safe_dump({
        "checkpoint": str(tmp_path / "frozen.pt"), "out_dir": str(tmp_path / "run"),
        "data": {"scenes": 8, "image_size": 64, "holdout": 0.25}, "optim": {"steps": 10}}))
    proc = _run("training.train_order_head", "--config", str(config), "optim.batch_size=16")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run/log.jsonl").read_text().strip()
    again = _run("training.train_order_head", "--config", str(config), "optim.steps=2")
    assert again.returncode == 0 and "reusing" in again.stdout, again.stderr[-3000:]
    # export: the head added, every other weight exactly as in the source file
    out = tmp_path / "with_order.pt"
    proc = _run("training.export_checkpoint", str(tmp_path / "frozen.pt"), str(out),
                "--order-head", str(tmp_path / "run/order_head.pt"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    source, _ = read_checkpoint(tmp_path / "frozen.pt")
    state, meta = read_checkpoint(out)
    assert meta["heads"] == ["amodal", "modal", "order"]
    assert set(state) - set(source) == {k for k in state if k.startswith(ORDER_PREFIX)}
    for key, value in source.items():
        assert state[key].dtype == value.dtype and torch.equal(state[key], value), key
    head, _ = read_checkpoint(tmp_path / "run/order_head.pt")
    for key, value in head.items():
        assert torch.equal(state[key], value), key
    assert build_sameo(checkpoint=out).has_order_head
    # errors: a source without a modal head, a file that is not an order head
    save_checkpoint(tmp_path / "amodal.pt", build_sameo("test"))
    refused = _run("training.export_checkpoint", str(tmp_path / "amodal.pt"), str(out),
                   "--order-head", str(tmp_path / "run/order_head.pt"))
    assert refused.returncode == 2 and "no modal head" in refused.stderr
    refused = _run("training.export_checkpoint", str(tmp_path / "frozen.pt"), str(out),
                   "--order-head", str(tmp_path / "frozen.pt"))
    assert refused.returncode == 2 and "is not an order head" in refused.stderr
    assert "Traceback" not in refused.stderr
