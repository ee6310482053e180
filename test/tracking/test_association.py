"""Association (affinity rules and assignment) and shape memory (the motion model:
test_motion.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.tracking.association import Side, affinity_matrix, assign, mask_iou
from sameo_core.tracking.shape_memory import ShapeMemory


def roi(x0: int, y0: int, x1: int, y1: int) -> RoiMask:
    return RoiMask(np.ones((y1 - y0, x1 - x0), bool), (x0, y0))


def side(mask: RoiMask, visible: RoiMask | None = None, cls: str = "", det: str = "") -> Side:
    return Side(mask, mask.box() if mask.area else np.array([0.0, 0, 1, 1]), visible, cls, det)


def test_affinity_is_mask_iou_with_gate_fallback_containment_and_prior():
    track = side(roi(10, 10, 30, 30), cls="cup", det="4")
    same = side(roi(12, 10, 32, 30), cls="cup")
    other_class = side(roi(10, 10, 30, 30), cls="bowl")
    far = side(roi(60, 60, 70, 70))
    empty = Side(RoiMask.empty(), np.array([10.0, 10, 30, 30]))  # box-IoU fallback
    sliver = side(roi(0, 0, 60, 60), visible=roi(12, 12, 16, 28))  # re-appearing sliver
    prior = side(roi(12, 10, 32, 30), det="4")
    a = affinity_matrix([track], [same, other_class, far, empty, sliver, prior], 0.3, 0.2)[0]
    assert a[0] == pytest.approx(mask_iou(roi(10, 10, 30, 30), roi(12, 10, 32, 30)))
    assert a[1] == 0 and a[2] == 0
    assert a[3] == pytest.approx(1.0)
    assert a[4] == pytest.approx(0.5)  # ½ x the visible sliver lies inside the track's region
    assert a[5] == pytest.approx(a[0] + 0.2)


def test_growing_object_at_the_border_continues_its_track():
    entering = Side(roi(0, 10, 1, 30), np.array([0.0, 10, 1, 30]), at_border=True)
    grown = side(roi(0, 10, 4, 30))
    assert affinity_matrix([entering], [grown], 0.3, 0.2)[0, 0] == pytest.approx(0.5)
    inner = Side(roi(0, 10, 1, 30), np.array([0.0, 10, 1, 30]))
    assert affinity_matrix([inner], [grown], 0.3, 0.2)[0, 0] == pytest.approx(0.25)


def test_assign_maximises_total_affinity_and_drops_weak_pairs():
    affinity = np.array([[0.9, 0.8], [0.85, 0.1], [0.2, 0.25]])
    assert sorted(assign(affinity, 0.3)) == [(0, 1), (1, 0)]
    assert assign(np.zeros((0, 3)), 0.3) == []


def test_shape_memory_averages_views_and_ignores_unseen_pixels():
    memory = ShapeMemory(roi(10, 10, 30, 30), (20.0, 20.0), 1.0)
    for _ in range(2):  # two views lacking the left 5 columns: the majority still has them
        memory.add(roi(15, 10, 30, 30), (20.0, 20.0), 1.0, 0.9, 0.2)
    assert memory.at((20.0, 20.0)).box().tolist() == [10, 10, 30, 30]
    for _ in range(10):  # the left columns hidden by another object: no evidence, kept
        memory.add(roi(15, 10, 30, 30), (20.0, 20.0), 1.0, 0.9, 0.2, unseen=roi(5, 0, 15, 40))
    assert memory.at((20.0, 20.0)).box().tolist() == [10, 10, 30, 30]
    for _ in range(10):  # seen without them: they go
        memory.add(roi(15, 10, 30, 30), (20.0, 20.0), 1.0, 0.9, 0.2)
    assert memory.at((20.0, 20.0)).box().tolist() == [15, 10, 30, 30]
    assert memory.at((30.0, 25.0)).box().tolist() == [25, 15, 40, 35]  # drawn at the centre


def test_shape_memory_keeps_the_most_visible_partial_view():
    memory = ShapeMemory(roi(10, 10, 20, 30), (15.0, 20.0), 0.4)
    assert not memory.add(roi(10, 10, 15, 30), (15.0, 20.0), 0.2, 0.9, 0.2)
    assert memory.add(roi(10, 10, 30, 30), (20.0, 20.0), 0.6, 0.9, 0.2)
    assert memory.area == 400


def test_shape_memory_weights_are_the_running_average_of_full_size_targets():
    """The in-place update (rate added under the view, unseen pixels kept) gives the float32
    weights of `weights·(1 - rate) + rate·target` with a full-size target, bit for bit."""
    rng = np.random.default_rng(0)
    memory = ShapeMemory(roi(20, 20, 40, 44), (30.0, 32.0), 1.0)
    for _ in range(40):
        x, y = (int(v) for v in rng.integers(12, 28, 2))
        h, w = (int(v) for v in rng.integers(10, 30, 2))
        view = RoiMask(rng.random((h, w)) < 0.8, (x, y))
        ux, uy = (int(v) for v in rng.integers(10, 40, 2))
        unseen = RoiMask(rng.random((12, 12)) < 0.5, (ux, uy))
        centre = (30.0 + rng.normal(0, 2), 32.0 + rng.normal(0, 2))
        before, origin = memory.weights.copy(), memory.origin
        memory.add(view, centre, 1.0, 0.9, 0.2, unseen)
        # the reference on the grown grid: pad what was there to the new grid
        left, top = round(origin[0] - memory.origin[0]), round(origin[1] - memory.origin[1])
        grid = np.zeros_like(memory.weights)
        grid[top : top + before.shape[0], left : left + before.shape[1]] = before
        gx = round(view.offset[0] - centre[0] - memory.origin[0])
        gy = round(view.offset[1] - centre[1] - memory.origin[1])
        target = np.zeros_like(grid)
        target[gy : gy + view.mask.shape[0], gx : gx + view.mask.shape[1]] = view.mask
        expected = grid * (1.0 - 0.2) + 0.2 * target
        place = RoiMask(np.zeros(grid.shape, bool), (view.offset[0] - gx, view.offset[1] - gy))
        keep = place.aligned(unseen)
        expected[keep] = grid[keep]
        if memory.area:  # (a memory that lost every pixel restarts from the view)
            np.testing.assert_array_equal(memory.weights, expected)
