"""Segmentation decoding: polygons (flat and nested), compressed and uncompressed RLE."""

import numpy as np
import pytest
from helpers.amodal_data import H, W, rect_mask, rect_polygon, uncompressed_rle

from sameo_core.data import rle


def test_flat_and_nested_polygons_give_the_same_mask():
    expected = rect_mask(2, 3, 10, 8)
    flat = rle.decode(rle.to_rle(rect_polygon(2, 3, 10, 8), H, W))
    nested = rle.decode(rle.to_rle([rect_polygon(2, 3, 10, 8)], H, W))
    assert np.array_equal(flat, expected) and np.array_equal(nested, expected)


def test_two_polygons_are_merged():
    segm = [rect_polygon(0, 0, 4, 4), rect_polygon(10, 10, 12, 14)]
    assert rle.area(rle.to_rle(segm, H, W)) == 16 + 8


def test_uncompressed_rle_and_bytes_counts():
    mask = rect_mask(5, 1, 9, 19)
    from_list = rle.to_rle(uncompressed_rle(mask), H, W)
    assert isinstance(from_list["counts"], str)
    assert np.array_equal(rle.decode(from_list), mask)
    as_bytes = {"size": [H, W], "counts": from_list["counts"].encode()}
    assert rle.to_rle(as_bytes, H, W) == from_list


def test_encode_bbox_and_set_operations():
    a, b = rle.encode(rect_mask(0, 0, 10, 10)), rle.encode(rect_mask(5, 5, 15, 15))
    assert rle.bbox(a) == (0.0, 0.0, 10.0, 10.0)
    assert rle.area(rle.intersect(a, b)) == 25
    assert rle.area(rle.union(a, b)) == 175


@pytest.mark.parametrize(
    ("segm", "reason"),
    [
        ([1.0, 2.0, 3.0, 4.0], "bad_polygon"),
        ([[1.0, 2.0, 3.0, 4.0, 5.0]], "bad_polygon"),
        ([], "empty_segmentation"),
        ({"size": [H + 1, W], "counts": "abc"}, "size_mismatch"),
        ({"size": [H, W], "counts": [1, 2, 3]}, "bad_rle"),
        ({"counts": "abc"}, "bad_rle"),
        ("not a mask", "bad_segmentation"),
    ],
)
def test_bad_segmentations_raise_with_a_reason(segm, reason):
    with pytest.raises(rle.MaskFormatError) as info:
        rle.to_rle(segm, H, W)
    assert info.value.reason == reason


@pytest.mark.parametrize("counts", ["0", "zzzz", "PPYo0"])
def test_corrupt_compressed_counts_are_rejected(counts):
    with pytest.raises(rle.MaskFormatError, match="bad_rle"):
        rle.to_rle({"size": [H, W], "counts": counts}, H, W)
