"""Occlusion evaluation: GT pairs from the layer order, order accuracy and mean IoUs, and the
`training.evaluate_occlusion` command end to end."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sameo_core.data.images import read_image_rgb
from sameo_core.data.records import group_by_image
from sameo_core.data.registry import read_dataset
from sameo_core.evaluation.occlusion import ORDER_METHODS, evaluate_occlusion, gt_front_pairs
from sameo_core.geometry import RoiMask, xywh_to_xyxy
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    from training.synthesize import Job, generate

    out = tmp_path_factory.mktemp("scenes")
    generate(Job(out=out, source="scenes", num_images=6, seed=2, image_size=64))
    return out / "annotations.json"


@pytest.fixture(scope="module")
def groups(scenes):
    return group_by_image(read_dataset("amodal_coco", scenes).records)


class PerfectPredictor:
    """Returns the GT masks of the instance each box was made from (checks the accounting)."""

    has_modal_head = True

    def __init__(self, groups):
        self.by_image = {g.image_path: g for g in groups}
        self.group = None

    def set_image(self, image):
        self.group = next(g for p, g in self.by_image.items()
                          if np.array_equal(read_image_rgb(p), image))  # fmt: skip

    def predict(self, boxes):
        masks = []
        for box in boxes:
            rec = next(r for r in self.group.instances
                       if np.allclose(box, xywh_to_xyxy(r.visible_box)))
            masks.append(SimpleNamespace(amodal=RoiMask.from_full(rec.amodal_mask.astype(bool)),
                                         visible=RoiMask.from_full(rec.visible_mask.astype(bool))))
        return SimpleNamespace(masks=masks, rejected={})


def test_gt_pairs_come_from_the_layer_order(groups):
    total = 0
    for group in groups:
        pairs = gt_front_pairs(group.instances)
        for (i, j), front in pairs.items():
            back = j if front == i else i
            a, b = group.instances[i], group.instances[j]
            assert (a.amodal_mask & b.amodal_mask).any()
            assert group.instances[front].annotation_id in group.instances[back].occluded_by
        total += len(pairs)
    assert total > 0


def test_gt_pairs_refuse_a_gt_without_or_with_a_broken_layer_order(groups):
    group = next(g for g in groups if any(r.occluded_by for r in g.instances))
    records = list(group.instances)
    with pytest.raises(ValueError, match="no layer order"):
        gt_front_pairs([dataclasses.replace(records[0], occluded_by=None), *records[1:]])
    with pytest.raises(ValueError, match="not an annotation of image"):
        gt_front_pairs([dataclasses.replace(records[0], occluded_by=(999,)), *records[1:]])
    back = next(r for r in records if r.occluded_by)
    front = next(r for r in records if r.annotation_id == back.occluded_by[0])
    swapped = [dataclasses.replace(front, occluded_by=(back.annotation_id,)) if r is front else r
               for r in records]  # fmt: skip
    with pytest.raises(ValueError, match="each say the other is in front"):
        gt_front_pairs(swapped)


def test_perfect_masks_score_like_the_rule_on_gt_masks(groups):
    summary = evaluate_occlusion(PerfectPredictor(groups), groups)
    order = summary["order"]
    assert summary["pairs"] > 0 and summary["images"] == len(groups)
    assert order[ORDER_METHODS[0]] == order[ORDER_METHODS[2]]
    # on GT masks the rule never errs: the pair it decides, it decides right
    assert order[ORDER_METHODS[2]]["correct"] == round(order[ORDER_METHODS[2]]["decided"]
                                                       * summary["pairs"])  # fmt: skip
    masks = summary["masks"]
    assert masks["visible: modal head"]["all"]["mIoU"] == 1.0
    assert masks["amodal: amodal head"]["all"]["mIoU"] == 1.0
    assert masks["visible: amodal mask as visible"]["unoccluded"]["mIoU"] == 1.0
    assert masks["visible: amodal mask as visible"]["occluded"]["mIoU"] < 1.0
    counts = [masks["visible: modal head"][s]["count"] for s in ("occluded", "unoccluded", "all")]
    assert counts[0] + counts[1] == counts[2] == sum(len(g.instances) for g in groups)


def test_a_network_without_modal_head_is_refused(groups):
    with pytest.raises(ValueError, match="modal head"):
        evaluate_occlusion(AmodalPredictor(build_sameo("test")), groups)
    with pytest.raises(ValueError, match="gt-modal or gt-amodal"):
        evaluate_occlusion(PerfectPredictor(groups), groups, "detections")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip


def test_evaluate_occlusion_command(tmp_path, scenes):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "both.pt", build_sameo("test", modal_head=True))
    out = tmp_path / "occ.json"
    proc = _run("training.evaluate_occlusion", "--gt", f"amodal_coco:{scenes}", "--checkpoint",
                str(tmp_path / "both.pt"), "--prompts", "gt-amodal", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["prompts"] == "gt-amodal" and summary["pairs"] > 0
    assert set(summary["order"]) == set(ORDER_METHODS)
    assert all(0 <= row["accuracy"] <= row["decided"] <= 1 for row in summary["order"].values()
               if row is not summary["order"][ORDER_METHODS[1]])  # fmt: skip
    assert summary["order"][ORDER_METHODS[1]]["decided"] == 1.0  # a total order decides all
    for row in ("| occlusion order |", "| spill order (old heuristic) |", "visible: modal head"):
        assert row in proc.stdout
    save_checkpoint(tmp_path / "amodal.pt", build_sameo("test"))
    refused = _run("training.evaluate_occlusion", "--gt", str(scenes), "--checkpoint",
                   str(tmp_path / "amodal.pt"))
    assert refused.returncode == 2 and "has no modal head" in refused.stderr
    assert "Traceback" not in refused.stderr
