import numpy as np
import pytest

from sameo_core.geometry import (
    BAD_SCORE,
    DEGENERATE,
    NON_FINITE,
    OUTSIDE,
    RoiMask,
    as_box_array,
    mask_box,
    mask_boxes,
    overlapping_box_pairs,
    sanitize_boxes,
    xywh_to_xyxy,
    xyxy_to_xywh,
)


def test_sanitize_clips_and_reports_every_reason():
    boxes = np.array([
        [10, 10, 50, 50],        # fine
        [-20, 5, 30, 500],       # reaches out of the image: clipped
        [np.nan, 0, 10, 10],     # NaN
        [0, 0, np.inf, 10],      # inf
        [30, 30, 30, 40],        # zero width
        [50, 50, 40, 60],        # negative width
        [200, 10, 300, 40],      # beyond the right edge
        [-50, -50, -10, -10],    # above-left of the image
        [5, 5, 20, 20],          # NaN score
    ], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, np.nan])
    clipped, rejected = sanitize_boxes(boxes, (100, 150), scores)
    assert rejected == {2: NON_FINITE, 3: NON_FINITE, 4: DEGENERATE, 5: DEGENERATE,
                        6: OUTSIDE, 7: OUTSIDE, 8: BAD_SCORE}
    np.testing.assert_array_equal(clipped[0], [10, 10, 50, 50])
    np.testing.assert_array_equal(clipped[1], [0, 5, 30, 100])


def test_as_box_array_shapes():
    assert as_box_array([]).shape == (0, 4)
    assert as_box_array([[1, 2, 3, 4]]).dtype == np.float64
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        as_box_array([1, 2, 3, 4])
    with pytest.raises(TypeError, match="numeric"):
        as_box_array(np.array([["a", "b", "c", "d"]]))


def _full(height, width, *rects):
    mask = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in rects:
        mask[y0:y1, x0:x1] = True
    return mask


def test_mask_boxes_have_exclusive_ends_and_zero_for_empty():
    masks = np.stack([_full(10, 12, (2, 3, 5, 4)), np.zeros((10, 12), bool),
                      _full(10, 12, (0, 0, 1, 1), (11, 9, 12, 10))])
    np.testing.assert_array_equal(mask_boxes(masks), [[2, 3, 5, 4], [0, 0, 0, 0], [0, 0, 12, 10]])
    np.testing.assert_array_equal(mask_box(masks[0]), [2, 3, 5, 4])
    assert mask_boxes(np.zeros((0, 4, 4), bool)).shape == (0, 4)
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        mask_boxes(np.zeros((4, 4), bool))


def test_mask_box_of_one_mask_equals_mask_boxes():
    rng = np.random.default_rng(0)
    masks = rng.random((60, 17, 23)) < rng.uniform(0, 0.02, (60, 1, 1))  # some empty, some not
    assert (~masks.any(axis=(1, 2))).any() and masks.any(axis=(1, 2)).any()
    np.testing.assert_array_equal(np.stack([mask_box(m) for m in masks]), mask_boxes(masks))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        mask_box(masks)


def test_box_conversion_round_trip():
    xywh = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.0, 10.0, 0.25]])
    np.testing.assert_array_equal(xywh_to_xyxy(xywh), [[1, 2, 4, 6], [0.5, 0, 10.5, 0.25]])
    np.testing.assert_array_equal(xyxy_to_xywh(xywh_to_xyxy(xywh)), xywh)
    assert xywh_to_xyxy((1, 2, 3, 4)).shape == (4,)


def test_roi_mask_from_full_paste_and_box():
    full = _full(20, 30, (4, 5, 9, 7), (12, 6, 13, 15))
    roi = RoiMask.from_full(full)
    assert roi.offset == (4, 5) and roi.mask.shape == (10, 9)
    np.testing.assert_array_equal(roi.paste(20, 30), full)
    np.testing.assert_array_equal(roi.box(), [4, 5, 13, 15])
    assert roi.area == int(full.sum())
    empty = RoiMask.from_full(np.zeros((5, 5), bool))
    assert empty.mask.shape == (0, 0) and empty.area == 0
    assert not empty.paste(5, 5).any() and not empty.box().any()


def test_roi_mask_leaving_the_image_is_cut_by_paste_window_crop_and_inside():
    roi = RoiMask(np.ones((4, 6), bool), (-2, 7))  # columns -2..3, rows 7..10 of a 9x5 image
    pasted = roi.paste(9, 5)
    assert pasted.sum() == 4 * 2 and pasted[7:9, 0:4].all()
    rows, cols, mask_rows, mask_cols = roi.window(9, 5)
    assert (rows, cols) == (slice(7, 9), slice(0, 4))
    assert (mask_rows, mask_cols) == (slice(0, 2), slice(2, 6))
    np.testing.assert_array_equal(roi.box(), [-2, 7, 4, 11])  # the box may leave the image
    image = np.arange(45).reshape(9, 5)
    crop = roi.crop(image)
    assert crop.shape == (4, 6) and crop[0, 2] == image[7, 0] and crop[3, 0] == 0
    inside = roi.inside(9, 5)
    assert inside.offset == roi.offset and inside.area == 8 and inside.mask[:2, 2:].all()
    inner = RoiMask(np.ones((2, 2), bool), (1, 1))
    assert inner.inside(9, 5) is inner
    far = RoiMask(np.ones((2, 2), bool), (50, 50))
    assert not far.paste(9, 5).any() and far.inside(9, 5).area == 0


def test_roi_mask_set_operations_equal_full_image_ones():
    rng = np.random.default_rng(2)
    for _ in range(30):
        a = rng.random((30, 40)) < 0.4
        b = rng.random((30, 40)) < 0.4
        a[:, : rng.integers(0, 20)] = False
        b[rng.integers(10, 30) :] = False
        ra, rb = RoiMask.from_full(a), RoiMask.from_full(b)
        shift = tuple(int(v) for v in rng.integers(-50, 50, 2))
        ra, rb = (RoiMask(r.mask, (r.offset[0] + shift[0], r.offset[1] + shift[1]))
                  for r in (ra, rb))  # fmt: skip
        frame = RoiMask(np.zeros((130, 140), bool), (shift[0] - 50, shift[1] - 50))
        full_a, full_b = frame.aligned(ra), frame.aligned(rb)
        np.testing.assert_array_equal(frame.aligned(ra.intersect(rb)), full_a & full_b)
        np.testing.assert_array_equal(frame.aligned(ra.subtract(rb)), full_a & ~full_b)
        for result in (ra.intersect(rb), ra.subtract(rb)):
            assert result.mask.size == 0 or (result.mask[0].any() and result.mask[-1].any()
                                             and result.mask[:, 0].any())  # tight
    assert RoiMask.empty().tight().mask.shape == (0, 0)
    square = RoiMask(np.ones((2, 2), bool), (0, 0))
    apart = square.intersect(RoiMask(np.ones((2, 2), bool), (5, 5)))
    assert apart.area == 0 and apart.mask.shape == (0, 0)
    loose = RoiMask(np.pad(np.ones((2, 3), bool), ((1, 4), (2, 0))), (-3, 7)).tight()
    assert loose.offset == (-1, 8) and loose.mask.shape == (2, 3) and loose.mask.all()


def test_overlapping_box_pairs_are_those_sharing_an_area():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [10, 0, 20, 10], [2, 2, 4, 4],
                      [30, 30, 31, 31]], float)  # fmt: skip
    pairs, inter = overlapping_box_pairs(boxes)
    # 0 and 2 only touch (exclusive ends); 4 overlaps nothing
    assert pairs.tolist() == [[0, 1], [0, 3], [1, 2]]
    assert inter.tolist() == [25.0, 4.0, 25.0]
    empty_pairs, empty_inter = overlapping_box_pairs(np.zeros((0, 4)))
    assert empty_pairs.shape == (0, 2) and empty_inter.shape == (0,)
