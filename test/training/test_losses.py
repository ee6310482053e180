"""Losses against hand-computed values, torchvision, and properties."""

import math

import pytest
import torch
from torchvision.ops import sigmoid_focal_loss

from sameo_core.training.losses import (
    PAPER_WEIGHTS,
    SameoCriterion,
    dice_loss,
    focal_loss,
    iou_loss,
    mask_iou,
    resize_targets,
    weighted_total,
)


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class TestDiceLoss:
    def test_hand_computed(self):
        logits = torch.tensor([[[0.0, 2.0], [-2.0, 0.0]]])
        targets = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
        p = [0.5, _sig(2.0), _sig(-2.0), 0.5]
        t = [1, 1, 0, 0]
        inter = sum(a * b for a, b in zip(p, t))
        expected = 1 - (2 * inter + 1) / (sum(p) + sum(t) + 1)
        assert dice_loss(logits, targets).item() == pytest.approx(expected, rel=1e-6)

    def test_perfect_prediction_is_near_zero_and_reductions(self):
        targets = torch.zeros(3, 8, 8)
        targets[:, 2:6, 2:6] = 1
        logits = (targets * 2 - 1) * 50
        per_mask = dice_loss(logits, targets, reduction="none")
        assert per_mask.shape == (3,)
        assert per_mask.max().item() < 1e-6
        assert dice_loss(logits, targets, reduction="sum") == pytest.approx(per_mask.sum().item())

    def test_bad_input(self):
        with pytest.raises(ValueError, match="differ"):
            dice_loss(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5))
        with pytest.raises(ValueError, match="reduction"):
            dice_loss(torch.zeros(2, 4, 4), torch.zeros(2, 4, 4), reduction="avg")


class TestFocalLoss:
    @pytest.mark.parametrize(("seed", "alpha"), [(0, None), (1, None), (0, 0.25), (1, 0.6)])
    def test_matches_torchvision_per_mask_mean(self, seed, alpha):
        g = torch.Generator().manual_seed(seed)
        logits = torch.randn(4, 3, 6, 5, generator=g)
        targets = (torch.rand(4, 3, 6, 5, generator=g) > 0.5).float()
        tv_alpha = -1 if alpha is None else alpha  # torchvision: a negative alpha means none
        ref = sigmoid_focal_loss(logits, targets, alpha=tv_alpha, gamma=2, reduction="none")
        torch.testing.assert_close(
            focal_loss(logits, targets, alpha, reduction="none"), ref.mean(dim=(-2, -1))
        )
        torch.testing.assert_close(focal_loss(logits, targets, alpha), ref.mean())

    def test_eq4_by_default_hand_computed(self):
        # paper eq. 4, no alpha: -(1 - p_t)^2 log(p_t), averaged over the mask's pixels;
        # an object pixel at logit 1 (p_t = sigmoid(1)), a background pixel at logit 1
        # (p_t = 1 - sigmoid(1)) and an object pixel at logit -2 (p_t = sigmoid(-2))
        p = _sig(1.0)
        q = _sig(-2.0)
        expected = ((1 - p) ** 2 * -math.log(p) + p**2 * -math.log(1 - p)
                    + (1 - q) ** 2 * -math.log(q)) / 3  # fmt: skip
        value = focal_loss(torch.tensor([[[1.0, 1.0, -2.0]]]), torch.tensor([[[1.0, 0.0, 1.0]]]))
        assert value.item() == pytest.approx(expected, rel=1e-6)
        assert SameoCriterion().focal_alpha is None

    def test_hand_computed_single_pixel_with_alpha(self):
        # one positive pixel with p = sigmoid(1): alpha * (1 - p)^2 * -log(p)
        p = _sig(1.0)
        expected = 0.25 * (1 - p) ** 2 * -math.log(p)
        value = focal_loss(torch.tensor([[[1.0]]]), torch.tensor([[[1.0]]]), alpha=0.25)
        assert value.item() == pytest.approx(expected, rel=1e-6)

    def test_alpha_quarter_weakens_missed_object_pixels(self):
        # at p = 0.5 the gradient of a missed object pixel is 1/3 of a false positive's
        logit = torch.zeros(1, 1, 2, requires_grad=True)
        focal_loss(logit, torch.tensor([[[1.0, 0.0]]]), alpha=0.25, reduction="sum").backward()
        missed, false_positive = logit.grad[0, 0].abs().tolist()
        assert missed / false_positive == pytest.approx(1 / 3)

    def test_gamma_zero_no_alpha_is_bce(self):
        logits = torch.randn(2, 4, 4, requires_grad=True)
        targets = (torch.rand(2, 4, 4) > 0.5).float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        torch.testing.assert_close(focal_loss(logits, targets, alpha=-1, gamma=0), bce)


class TestIouLoss:
    def test_hand_computed(self):
        logits = torch.full((1, 4, 4), -5.0)
        logits[0, :2, :] = 5.0  # predicts the top 8 pixels
        targets = torch.zeros(1, 4, 4)
        targets[0, :, :2] = 1  # the left 8 pixels: intersection 4, union 12
        assert mask_iou(logits, targets).item() == pytest.approx(4 / 12)
        iou_pred = torch.tensor([0.5], requires_grad=True)
        loss = iou_loss(iou_pred, logits, targets)
        assert loss.item() == pytest.approx(abs(0.5 - 4 / 12))
        loss.backward()
        assert iou_pred.grad.item() == pytest.approx(1.0)

    def test_target_has_no_gradient_and_empty_is_one(self):
        logits = torch.full((1, 3, 3), -1.0, requires_grad=True)
        targets = torch.zeros(1, 3, 3)
        assert mask_iou(logits, targets).item() == 1.0
        iou_loss(torch.tensor([0.2], requires_grad=True), logits, targets).backward()
        assert logits.grad is None
        assert not mask_iou(logits, targets).requires_grad


class TestCriterion:
    def test_min_loss_output_is_supervised(self):
        targets = torch.zeros(2, 8, 8)
        targets[:, 2:6, 2:6] = 1
        good = (targets * 2 - 1) * 20
        logits = torch.stack([-good, good, torch.zeros_like(good)], dim=1)  # best output: 1
        iou_pred = torch.tensor([[0.5, 1.0, 0.0], [0.5, 0.7, 0.0]])
        terms = SameoCriterion()(logits, iou_pred, targets)
        assert terms["loss_dice"].item() < 1e-6
        assert terms["iou"].item() == 1.0
        # target IoUs are [0, 1, 0] (inverted mask, perfect mask, empty mask), for all 3 outputs
        expected_iou_loss = (0.5 + 0 + 0 + 0.5 + 0.3 + 0) / 6
        assert terms["loss_iou"].item() == pytest.approx(expected_iou_loss)

    def test_output_is_chosen_by_the_optimised_weighted_loss_hand_computed(self):
        # two outputs of one 4-pixel instance: A has the larger Dice loss and the smaller focal
        # loss, B the reverse; which one is supervised depends on the loss weights
        targets = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
        outputs = {"A": [-1.0, -1.0, -2.0, -2.0], "B": [3.0, -2.0, -2.0, -2.0]}
        logits = torch.tensor([[outputs["A"], outputs["B"]]])[:, :, None, :]
        dice, focal = {}, {}
        for name, row in outputs.items():
            p = [_sig(x) for x in row]
            t = [1, 1, 0, 0]
            dice[name] = 1 - (2 * sum(a * b for a, b in zip(p, t)) + 1) / (sum(p) + 2 + 1)
            focal[name] = sum((1 - pi) ** 2 * -math.log(pi) if ti else pi**2 * -math.log(1 - pi)
                              for pi, ti in zip(p, t)) / 4  # fmt: skip
        iou_pred = torch.tensor([[0.5, 0.5]])
        for weights, chosen in ((PAPER_WEIGHTS, "B"), (dict(PAPER_WEIGHTS, loss_focal=20.0), "A")):
            w_focal = weights["loss_focal"]
            totals = {n: dice[n] + w_focal * focal[n] for n in outputs}
            assert min(totals, key=totals.get) == chosen  # the hand computation agrees
            terms = SameoCriterion(weight_dict=weights)(logits, iou_pred, targets)
            assert terms["loss_dice"].item() == pytest.approx(dice[chosen], rel=1e-5)
            assert terms["loss_focal"].item() == pytest.approx(focal[chosen], rel=1e-5)
            # the IoU term covers both outputs whichever wins: A predicts nothing (IoU 0),
            # B one of the two object pixels (IoU 1/2)
            assert terms["loss_iou"].item() == pytest.approx((0.5 + 0.0) / 2)
            total = weighted_total(terms, weights)
            assert total.item() == pytest.approx(totals[chosen] + 0.05 * 0.25, rel=1e-5)

    def test_weighted_total_and_gradients(self):
        logits = torch.randn(3, 3, 16, 16, requires_grad=True)
        iou_pred = torch.rand(3, 3, requires_grad=True)
        targets = (torch.rand(3, 32, 32) > 0.5).float()  # resized to 16x16 inside
        terms = SameoCriterion()(logits, iou_pred, targets)
        total = weighted_total(terms, PAPER_WEIGHTS)
        expected = terms["loss_dice"] + terms["loss_focal"] + 0.05 * terms["loss_iou"]
        torch.testing.assert_close(total, expected)
        total.backward()
        assert logits.grad.abs().sum() > 0 and iou_pred.grad.abs().sum() > 0

    def test_bad_shapes_and_missing_terms(self):
        with pytest.raises(ValueError, match="expected logits"):
            SameoCriterion()(torch.zeros(2, 3, 4, 4), torch.zeros(2, 1), torch.zeros(2, 4, 4))
        with pytest.raises(KeyError, match="loss_x"):
            weighted_total({"loss_dice": torch.tensor(1.0)}, {"loss_x": 1.0})


def test_resize_targets_area_threshold():
    t = torch.zeros(1, 4, 4)
    t[0, :2, :2] = 1
    t[0, 2, 2] = 1  # a quarter of a 2x2 cell: dropped
    out = resize_targets(t, (2, 2))
    assert out.tolist() == [[[1.0, 0.0], [0.0, 0.0]]]
