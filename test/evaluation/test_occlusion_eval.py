"""Occlusion evaluation: GT pairs from the layer order, order accuracy and mean IoUs, where the
order fails (the breakdown over each GT pair's true overlap, the rule with one head replaced by
the truth), the mask-noise robustness mode, and the `training.evaluate_occlusion` command end to
end."""

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
from sameo_core.evaluation.occlusion import (
    BREAKDOWN,
    LEARNED_METHODS,
    ORDER_METHODS,
    evaluate_occlusion,
    gt_front_pairs,
    noise_robustness,
    overlap_breakdown,
    perturb_mask,
)
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


def test_a_network_with_an_order_head_adds_its_two_rows(groups):
    torch.manual_seed(0)
    model = build_sameo("test", order_head=True)
    summary = evaluate_occlusion(AmodalPredictor(model), groups, "gt-amodal")
    assert set(summary["order"]) == set(ORDER_METHODS) | set(LEARNED_METHODS)
    for method in LEARNED_METHODS:
        row = summary["order"][method]
        assert 0 <= row["accuracy"] <= row["decided"] <= 1
    # the head alone decides the pairs it scored, with the masks the pairs they relate
    assert summary["order"][LEARNED_METHODS[1]]["decided"] > 0
    without = evaluate_occlusion(AmodalPredictor(build_sameo("test", modal_head=True)), groups)
    assert set(without["order"]) == set(ORDER_METHODS)


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



def _rect(y0: int, x0: int, y1: int, x1: int, shape=(20, 20)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_breakdown_of_hand_made_masks():
    # truth: object 0 (front) at rows 0-10, object 1 (back) at rows 5-15; overlap rows 5-10
    gt = [_rect(0, 0, 10, 10), _rect(5, 0, 15, 10)]
    overlap = 50
    # predicted: the back object's amodal mask covers only rows 8-15 of it (under-completion),
    # the front object's bleeds down to row 12 (into the back's visible part)
    amodal = [_rect(0, 0, 12, 10), _rect(8, 0, 15, 10)]
    visible = [_rect(0, 0, 8, 10), _rect(8, 0, 15, 10)]  # the back claims rows 8-10
    (row,) = overlap_breakdown(amodal, visible, gt, {(0, 1): 0})
    assert set(row) == set(BREAKDOWN)
    assert row["front visible claims"] == 30 / overlap
    assert row["back visible claims"] == 20 / overlap
    assert row["back claims more"] == 0.0
    assert row["front amodal covers"] == 1.0
    assert row["back amodal covers"] == 20 / overlap
    assert row["predicted overlap empty"] == 0.0
    # predicted overlap rows 8-12 (40 px), of which rows 10-12 lie outside the true overlap
    assert row["amodal bleed"] == 20 / 40
    # the same pair listed with the other index in front swaps the roles
    (swapped,) = overlap_breakdown(amodal[::-1], visible[::-1], gt[::-1], {(0, 1): 1})
    assert swapped == row
    # GT masks: the truth itself
    (exact,) = overlap_breakdown(gt, [gt[0], gt[1] & ~gt[0]], gt, {(0, 1): 0})
    assert (exact["front visible claims"], exact["back visible claims"], exact["amodal bleed"],
            exact["back amodal covers"]) == (1.0, 0.0, 0.0, 1.0)  # fmt: skip
    (empty,) = overlap_breakdown([gt[0], _rect(15, 0, 20, 10)], visible, gt, {(0, 1): 0})
    assert empty["predicted overlap empty"] == 1.0 and np.isnan(empty["amodal bleed"])


def test_perfect_masks_give_the_truth_in_every_row(groups):
    summary = evaluate_occlusion(PerfectPredictor(groups), groups)
    order = summary["order"]
    for method in ORDER_METHODS[2:]:  # GT masks, and each head replaced by the truth
        assert order[method] == order[ORDER_METHODS[0]], method
    breakdown = summary["overlap_breakdown"]
    assert breakdown["pairs"] == summary["pairs"]
    assert breakdown["back visible claims"] == 0.0 and breakdown["amodal bleed"] == 0.0
    assert breakdown["front amodal covers"] == breakdown["back amodal covers"] == 1.0
    assert 0.5 < breakdown["front visible claims"] <= 1.0  # < 1 only where a third one hides


@pytest.mark.parametrize("k", [1, 2, 3])
def test_perturb_mask_moves_the_border_by_k_and_shifts_by_at_most_k(k):
    mask = _rect(10, 10, 30, 30, (40, 40))
    grown, shrunk = 0, 0
    for seed in range(20):
        out = perturb_mask(mask, k, np.random.default_rng(seed))
        area = out.sum()
        grown += area > mask.sum()
        shrunk += area < mask.sum()
        ys, xs = np.nonzero(out)
        assert 10 - 2 * k <= ys.min() <= 10 + 2 * k and 10 - 2 * k <= xs.min() <= 10 + 2 * k
        # a dilation or an erosion by k of a 20 x 20 square, moved
        side = ys.max() - ys.min() + 1
        assert side in (20 + 2 * k, 20 - 2 * k)
    assert grown and shrunk  # both operations happen
    np.testing.assert_array_equal(perturb_mask(mask, 0, np.random.default_rng(0)), mask)
    with pytest.raises(ValueError, match="noise radius"):
        perturb_mask(mask, -1, np.random.default_rng(0))


def test_noise_robustness_at_zero_is_the_rule_on_gt_masks(groups):
    result = noise_robustness(groups, [0, 2], seed=3)
    exact, noisy = result["rows"]
    oracle = evaluate_occlusion(PerfectPredictor(groups), groups)["order"][ORDER_METHODS[2]]
    assert (exact["k"], exact["accuracy"], exact["decided"]) == (0, oracle["accuracy"],
                                                                 oracle["decided"])  # fmt: skip
    assert exact["visible_mIoU_occluded"] == exact["amodal_mIoU_occluded"] == 1.0
    assert noisy["visible_mIoU_occluded"] < 1.0 and noisy["amodal_mIoU_occluded"] < 1.0
    assert noise_robustness(groups, [2], seed=3)["rows"][0] == noisy  # seeded


def test_noise_command(tmp_path, scenes):
    out = tmp_path / "noise.json"
    proc = _run("training.evaluate_occlusion", "--gt", f"amodal_coco:{scenes}", "--noise", "0",
                "1", "--json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["k"] for r in result["rows"]] == [0, 1]
    assert "| k (px) | order accuracy |" in proc.stdout
    for args, message in ((["--noise", "99"], "must be in 0..32"),
                          (["--noise", "1", "--checkpoint", "x.pt"], "no --checkpoint"),
                          ([], "--checkpoint is required")):  # fmt: skip
        refused = _run("training.evaluate_occlusion", "--gt", str(scenes), *args)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr[-2000:]
