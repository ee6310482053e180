"""The old spill heuristic, kept as the baseline order of the occlusion evaluation."""

import numpy as np

from sameo_core.evaluation.spill_order import spill, spill_front_to_back, visible_from_order
from sameo_core.geometry import RoiMask


def _rect(x0, y0, x1, y1, h=40, w=60):
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    return RoiMask.from_full(mask)


def test_spill_is_the_share_outside_the_prompt_box():
    mask = _rect(10, 10, 30, 20)  # 200 px
    assert spill(mask, np.array([10, 10, 30, 20])) == 0.0
    assert spill(mask, np.array([10, 10, 20, 20])) == 0.5
    assert spill(mask, np.array([50, 30, 55, 35])) == 1.0
    assert spill(RoiMask.empty(), np.array([0, 0, 5, 5])) == 1.0


def test_front_to_back_and_visible_masks():
    # 0 spills out of its box (taken as occluded), 1 fits its box: 1 is put in front
    amodal = [_rect(0, 0, 30, 30), _rect(20, 10, 50, 40)]
    boxes = [np.array([0, 0, 20, 30]), np.array([20, 10, 50, 40])]
    order = spill_front_to_back(amodal, boxes)
    assert order == [1, 0]
    visible = visible_from_order(amodal, order, (40, 60))
    np.testing.assert_array_equal(visible[1].paste(40, 60), amodal[1].paste(40, 60))
    expected = amodal[0].paste(40, 60) & ~amodal[1].paste(40, 60)
    np.testing.assert_array_equal(visible[0].paste(40, 60), expected)
    # ties: the later detection in front
    assert spill_front_to_back([amodal[1], amodal[1]], [boxes[1], boxes[1]]) == [1, 0]


def test_masks_leaving_the_image_are_cut_to_it():
    inside = visible_from_order([RoiMask(np.ones((10, 10), bool), (-5, -5))], [0], (40, 60))
    assert inside[0].offset == (0, 0) and inside[0].area == 25
