"""The occlusion order: mask evidence, decisions, the cycle rule and the depth-evidence hook."""

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.inference.occlusion_order import OrderConfig, mask_evidence, occlusion_order

H, W = 60, 90


def rect(x0, y0, x1, y1):
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def painted(amodals_back_to_front):
    """Visible masks of masks painted back to front (the last one is in front)."""
    visible, covered = [], np.zeros((H, W), bool)
    for mask in reversed(amodals_back_to_front):
        visible.append(mask & ~covered)
        covered |= mask
    return visible[::-1]


def rois(masks):
    return [RoiMask.from_full(m) for m in masks]


def order_of(amodal, visible, depth=None, **config):
    return occlusion_order(rois(amodal), rois(visible), depth, OrderConfig(**config))


def test_a_painted_chain():
    # back to front: 0, 1, 2; 0 and 2 do not touch; 3 stands alone
    amodal = [rect(0, 0, 30, 30), rect(20, 10, 50, 40), rect(40, 20, 70, 50), rect(80, 0, 90, 10)]
    order = order_of(amodal, painted(amodal))
    assert order.occluded_by == ((1,), (2,), (), ())
    assert order.occludes == ((), (0,), (1,), ())
    assert order.rank == (2, 1, 0, 0)
    assert order.front_to_back == (2, 3, 1, 0)
    assert [(p.first, p.second, p.front, p.overlap) for p in order.pairs] == [
        (0, 1, 1, 200), (1, 2, 2, 200)]
    assert all(p.mask_score == pytest.approx(-1.0) and p.in_rank for p in order.pairs)
    assert order.front_of(1, 0) == order.front_of(0, 1) == 1 and order.front_of(0, 2) is None


def test_an_overlap_hidden_by_a_third_object_is_undecided():
    # 0 behind 1, and 2 in front covers all of 0 ∩ 1
    amodal = [rect(0, 0, 30, 30), rect(20, 20, 50, 50), rect(15, 15, 35, 35)]
    order = order_of(amodal, painted(amodal))
    pair = next(p for p in order.pairs if (p.first, p.second) == (0, 1))
    assert pair.mask_score == 0.0 and pair.front is None
    assert order.occluded_by == ((2,), (2,), ()) and order.rank == (1, 1, 0)


def test_cycles_are_broken_at_the_weakest_decision():
    """Three strips that each cover the next (a real cyclic occlusion): a top bar 0, a right bar
    1 and an L 2 (left and bottom bars), overlapping pairwise in 10 x 10 corners."""
    amodal = [rect(0, 0, 60, 10), rect(50, 0, 60, 60), rect(0, 0, 10, 60) | rect(0, 50, 60, 60)]
    visible = [m.copy() for m in amodal]
    visible[1][0:10, 50:60] = False  # 0 in front of 1
    visible[2][50:60, 50:60] = False  # 1 in front of 2
    visible[0][0:10, 0:10] = False  # 2 in front of 0, but 2 is seen on only 40 of the 100 px:
    visible[2][0:10, 4:10] = False  # the weakest decision, s(0, 2) = -0.4
    order = order_of(amodal, visible)
    fronts = {(p.first, p.second): (p.front, round(p.score, 2), p.in_rank) for p in order.pairs}
    assert fronts == {(0, 1): (0, 1.0, True), (1, 2): (1, 1.0, True), (0, 2): (2, -0.4, False)}
    # every decision is reported pairwise, the rank leaves out the weakest one of the cycle
    assert order.occluded_by == ((2,), (0,), (1,)) and order.occludes == ((1,), (2,), (0,))
    assert order.rank == (0, 1, 2) and order.front_to_back == (0, 1, 2)


def test_equal_strength_cycles_break_by_overlap_then_indices():
    amodal = [rect(0, 0, 60, 10), rect(50, 0, 60, 60), rect(0, 0, 10, 60) | rect(0, 50, 60, 60)]
    visible = [m.copy() for m in amodal]
    visible[1][0:10, 50:60] = False  # 0 over 1: 100 px
    visible[2][50:60, 50:60] = False  # 1 over 2: 100 px
    visible[0][0:10, 0:10] = False  # 2 over 0: 100 px, all three of strength 1
    order = order_of(amodal, visible)
    # sorted by (-|s|, -overlap, i, j): (0, 1), (0, 2), (1, 2) — the last closes the cycle
    assert {(p.first, p.second): p.in_rank for p in order.pairs} == {
        (0, 1): True, (0, 2): True, (1, 2): False}
    assert order.rank == (1, 2, 0)


def test_margin_and_min_overlap():
    amodal = [rect(0, 0, 30, 30), rect(28, 0, 50, 30)]  # 60 px overlap
    visible = [amodal[0].copy(), amodal[1].copy()]
    visible[1][0:27, 28:30] = False  # nearly a tie: 0 sees 60, 1 sees 6
    assert order_of(amodal, visible).front_of(0, 1) == 0
    assert order_of(amodal, visible, margin=0.95).front_of(0, 1) is None
    assert order_of(amodal, visible, min_overlap=61).pairs == ()


def test_depth_evidence_decides_combines_and_is_checked():
    # an overlap no visible mask shows: only depth can decide it
    amodal = [rect(0, 0, 30, 30), rect(20, 20, 50, 50), rect(15, 15, 35, 35)]
    visible = painted(amodal)
    assert order_of(amodal, visible, {(0, 1): 0.5}).front_of(0, 1) == 0
    assert order_of(amodal, visible, {(1, 0): 0.5}).front_of(0, 1) == 1  # (j, i): -d
    # 2 x 0.05 stays below the margin
    assert order_of(amodal, visible, {(0, 1): 0.05}, margin=0.15).front_of(0, 1) is None
    assert order_of(amodal, visible, {(0, 1): 0.5}, depth_weight=0).front_of(0, 1) is None
    pair = next(p for p in order_of(amodal, visible, {(1, 0): 0.5}).pairs if p.first == 0
                and p.second == 1)  # fmt: skip
    assert (pair.mask_score, pair.depth_score, pair.score) == (0.0, -0.5, -1.0)  # depth weight 2
    # strong depth overrules weak mask evidence, weak depth does not
    two = [rect(0, 0, 30, 30), rect(20, 0, 50, 30)]
    seen = [two[0].copy(), two[1] & ~rect(20, 0, 30, 9)]  # s_mask = 0.3: 0 in front
    assert order_of(two, seen).front_of(0, 1) == 0
    assert order_of(two, seen, {(0, 1): -0.9}).front_of(0, 1) == 1
    assert order_of(two, seen, {(0, 1): -0.1}).front_of(0, 1) == 0
    # depth evidence above 0.5 decides against any mask evidence (default depth_weight 2)
    clear = [two[0].copy(), two[1] & ~two[0]]  # s_mask = 1: 0 in front
    assert order_of(two, clear, {(0, 1): -0.51}).front_of(0, 1) == 1
    assert order_of(two, clear, {(0, 1): -0.49}).front_of(0, 1) == 0
    # depth for objects whose amodal masks do not overlap relates nothing
    apart = [rect(0, 0, 10, 10), rect(40, 40, 50, 50)]
    assert order_of(apart, apart, {(0, 1): 1.0}).pairs == ()
    for bad, match in [({(0, 1): 0.5, (1, 0): 0.5}, "twice"), ({(0, 1): 1.5}, r"\[-1, 1\]"),
                       ({(0, 1): float("nan")}, "finite"), ({(0, 0): 0.5}, "distinct"),
                       ({(0, 3): 0.5}, "distinct"), ({0: 0.5}, "index pairs")]:
        with pytest.raises(ValueError, match=match):
            order_of(two, seen, bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 amodal masks but 1 visible"):
        occlusion_order(rois([rect(0, 0, 5, 5)] * 2), rois([rect(0, 0, 5, 5)]))
    with pytest.raises(ValueError, match="min_overlap"):
        OrderConfig(min_overlap=0)
    with pytest.raises(ValueError, match="margin"):
        OrderConfig(margin=float("inf"))
    empty = occlusion_order([], [])
    assert empty.rank == () and empty.pairs == () and empty.front_to_back == ()


def test_mask_evidence_equals_full_image_counts():
    """Bit-packed counts = plain counts, for masks anywhere (negative offsets included) and
    visible masks that reach outside their amodal mask (clipped to it)."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        amodal, visible = [], []
        for _ in range(int(rng.integers(1, 5))):
            mask = rect(*rng.integers(0, 45, 2), *rng.integers(45, 90, 2)) & (
                rng.random((H, W)) < 0.9)
            amodal.append(mask)
            visible.append(rng.random((H, W)) < 0.5)
        shift = tuple(int(v) for v in rng.integers(-100, 100, 2))
        moved = [[RoiMask(r.mask, (r.offset[0] + shift[0], r.offset[1] + shift[1]))
                  for r in rois(masks)] for masks in (amodal, visible)]  # fmt: skip
        got = mask_evidence(*moved)
        for i in range(len(amodal)):
            for j in range(i + 1, len(amodal)):
                overlap = amodal[i] & amodal[j]
                if not overlap.any():
                    assert (i, j) not in got
                    continue
                seen = [(visible[k] & overlap).sum() for k in (i, j)]
                size, score = got[(i, j)]
                assert size == overlap.sum()
                assert score == pytest.approx((seen[0] - seen[1]) / size, abs=1e-12)
