"""The overlap-only pixel arithmetic (sameo_core/tracking/mask_overlap.py) equals the RoiMask
expression each function names, on random regions that overlap, touch, miss each other and
reach beyond the image."""

from __future__ import annotations

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.tracking.mask_overlap import (
    clear,
    intersection,
    keep_where,
    mask_iou,
    overlap_slices,
    under,
)

H, W = 40, 50


def random_roi(rng: np.random.Generator) -> RoiMask:
    h, w = (int(v) for v in rng.integers(1, 25, 2))
    x, y = int(rng.integers(-15, W + 5)), int(rng.integers(-15, H + 5))
    return RoiMask(rng.random((h, w)) < 0.6, (x, y))


@pytest.mark.parametrize("seed", range(3))
def test_each_function_equals_its_roimask_expression(seed):
    rng = np.random.default_rng(seed)
    full = rng.random((H, W)) < 0.5
    disjoint = 0
    for _ in range(300):
        a, b = random_roi(rng), random_roi(rng)
        aligned = a.aligned(b)
        assert intersection(a, b) == np.count_nonzero(a.mask & aligned)
        union = a.area + b.area - intersection(a, b)
        assert mask_iou(a, b) == (intersection(a, b) / union if union else 0.0)
        np.testing.assert_array_equal(under(a, full), a.crop(full))
        pixels = a.mask.copy()
        clear(pixels, a.offset, b)
        np.testing.assert_array_equal(pixels, a.mask & ~aligned)
        updated, previous = rng.random(a.mask.shape), rng.random(a.mask.shape)
        expected = updated.copy()
        expected[aligned] = previous[aligned]
        keep_where(updated, previous, a.offset, b)
        np.testing.assert_array_equal(updated, expected)
        window = overlap_slices(a.offset, a.mask.shape, b.offset, b.mask.shape)
        disjoint += window is None
        if window is not None:
            np.testing.assert_array_equal(a.mask[window[0]] & b.mask[window[1]],
                                          (a.mask & aligned)[window[0]])
    assert disjoint > 20  # the cases of regions that miss each other were drawn


def test_under_is_a_view_inside_the_image_and_a_padded_copy_across_its_border():
    full = np.arange(H * W).reshape(H, W)
    inside = RoiMask(np.ones((5, 6), bool), (3, 4))
    assert np.shares_memory(under(inside, full), full)
    across = RoiMask(np.ones((5, 6), bool), (-2, 4))
    cut = under(across, full)
    assert not np.shares_memory(cut, full) and (cut[:, :2] == 0).all()
    np.testing.assert_array_equal(cut[:, 2:], full[4:9, 0:4])
