"""The overlap-weighted loss (issue 18): per-pixel weights in Dice and focal, the other objects'
masks in a batch, and the criterion's option (off: exactly the paper's loss)."""

import math

import numpy as np
import pytest
import torch
from torchvision.ops import sigmoid_focal_loss

from sameo_core.data.procedural_scenes import SceneConfig
from sameo_core.training.batches import Sample, collate, other_objects
from sameo_core.training.losses import SameoCriterion, dice_loss, focal_loss
from sameo_core.training.recipe import DataSpec, load_config
from sameo_core.training.sources import ProceduralScenes
from sameo_core.training.stream import StepBatches


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_weighted_dice_hand_computed():
    logits = torch.tensor([[[0.0, 2.0], [-2.0, 0.0]]])
    targets = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    weights = torch.tensor([[[1.0, 3.0], [3.0, 1.0]]])
    p, t, w = [0.5, _sig(2.0), _sig(-2.0), 0.5], [1, 1, 0, 0], [1, 3, 3, 1]
    inter = sum(a * b * c for a, b, c in zip(p, t, w))
    expected = 1 - (2 * inter + 1) / (sum(a * c for a, c in zip(p, w)) + sum(b * c for b, c in
                                                                               zip(t, w)) + 1)
    got = dice_loss(logits, targets, weights=weights)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert got.item() != pytest.approx(dice_loss(logits, targets).item(), rel=1e-3)


def test_weighted_focal_is_the_weighted_mean_of_torchvision_per_pixel():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 5, 4, generator=g)
    targets = (torch.rand(2, 3, 5, 4, generator=g) > 0.5).float()
    weights = 1 + 4 * (torch.rand(2, 1, 5, 4, generator=g) > 0.7).float()
    per_pixel = sigmoid_focal_loss(logits, targets, alpha=-1, gamma=2, reduction="none")
    w = weights.expand_as(per_pixel)
    expected = (per_pixel * w).sum((-2, -1)) / w.sum((-2, -1))
    torch.testing.assert_close(focal_loss(logits, targets, reduction="none", weights=weights),
                               expected)  # fmt: skip


def test_unit_weights_change_nothing():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 3, 8, 8, generator=g)
    targets = (torch.rand(3, 3, 8, 8, generator=g) > 0.5).float()
    ones = torch.ones(3, 1, 8, 8)
    torch.testing.assert_close(dice_loss(logits, targets, "none", ones),
                               dice_loss(logits, targets, "none"))  # fmt: skip
    torch.testing.assert_close(focal_loss(logits, targets, reduction="none", weights=ones),
                               focal_loss(logits, targets, reduction="none"))  # fmt: skip


def test_criterion_weighs_only_pixels_of_other_objects():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 8, 8, generator=g, requires_grad=True)
    iou = torch.rand(2, 3, generator=g)
    targets = torch.zeros(2, 8, 8)
    targets[:, 2:6, 2:6] = 1
    others = torch.zeros(2, 8, 8)
    others[0, 4:8, 4:8] = 1  # instance 1 is alone in its image
    plain = SameoCriterion()(logits, iou, targets)
    weighted = SameoCriterion(overlap_weight=4.0)(logits, iou, targets, others)
    alone = SameoCriterion(overlap_weight=4.0)(logits[1:], iou[1:], targets[1:], others[1:])
    assert SameoCriterion()(logits[1:], iou[1:], targets[1:])["loss_dice"].item() == \
        pytest.approx(alone["loss_dice"].item(), rel=1e-6)
    assert weighted["loss_focal"].item() != pytest.approx(plain["loss_focal"].item(), rel=1e-3)
    # the gradient on an other object's pixel grows relative to a pixel of no other object
    grads = []
    for crit, extra in ((SameoCriterion(), ()), (SameoCriterion(overlap_weight=4.0), (others,))):
        logits.grad = None
        crit(logits, iou, targets, *extra)["loss_focal"].backward()
        grads.append(logits.grad[0].abs().sum(0))
    plain_g, weighted_g = grads
    ratio = (weighted_g[7, 7] / plain_g[7, 7]) / (weighted_g[0, 0] / plain_g[0, 0])
    assert ratio.item() == pytest.approx(5.0, rel=1e-4)
    with pytest.raises(ValueError, match="others"):
        SameoCriterion(overlap_weight=1.0)(logits, iou, targets)
    with pytest.raises(ValueError, match="overlap_weight"):
        SameoCriterion(overlap_weight=-1.0)


def test_other_objects_is_the_union_of_every_other_instance():
    rng = np.random.default_rng(0)
    amodal = rng.random((4, 6, 7)) > 0.6
    got = other_objects(amodal, np.array([2, 0]))
    for row, k in zip(got, (2, 0)):
        expected = np.logical_or.reduce([amodal[j] for j in range(4) if j != k])
        np.testing.assert_array_equal(row, expected)


def test_batches_carry_the_other_objects_of_all_instances_of_the_image():
    amodal = np.zeros((3, 16, 16), bool)
    amodal[0, 0:8, 0:8] = amodal[1, 4:12, 4:12] = amodal[2, 12:16, 12:16] = True
    sample = Sample(np.zeros((16, 16, 3), np.uint8), amodal, amodal.copy())
    batch = collate([sample], [np.array([0])], [np.array([[0, 0, 8, 8]], np.float32)], 16, 16)
    expected = amodal[1] | amodal[2]  # instance 2 is not prompted but still another object
    np.testing.assert_array_equal(batch.others[0].numpy().astype(bool), expected)
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=0)
    step = stream[0]
    assert step.others.shape == step.targets.shape
    assert step.others.max() == 1  # procedural scenes hold 2-4 objects


def test_scene_clutter_is_configured_and_validated():
    spec = load_config(None, ["data.shapes_num_objects=[3,5]",
                              "data.shapes_occlude_probability=0.9",
                              "data.shapes_image_size=96"]).data  # fmt: skip
    assert spec.scene_config() == SceneConfig(image_size=96, num_objects=(3, 5),
                                              occlude_probability=0.9)  # fmt: skip
    assert load_config(None).data.scene_config() == SceneConfig(image_size=128)
    source = ProceduralScenes(64, config=spec.scene_config())
    assert source.config.image_size == 64 and source.config.num_objects == (3, 5)
    assert len(source.sample(np.random.default_rng(0)).amodal) >= 3
    for overrides, match in ((["data.shapes_num_objects=[5,3]"], "num_objects"),
                             (["data.shapes_occlude_probability=2"], "occlude_probability"),
                             (["data.shapes_occlusion_range=[0.1]"], "pairs"),
                             (["optim.overlap_weight=-1"], "overlap_weight"),
                             (["optim.overlap_weight=.nan"], "overlap_weight")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            load_config(None, overrides)
