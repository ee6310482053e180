"""COCO RLE helpers: every mask in `sameo_core.data` is a compressed RLE dict.

An RLE here is always `{"size": [height, width], "counts": str}` with the counts as an ASCII
string (pycocotools' compressed form, decoded from bytes) so records stay JSON-serialisable.
`to_rle` accepts everything the amodal datasets use: a flat polygon, a list of polygons,
compressed RLE (str or bytes counts) and uncompressed RLE (list counts).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

Rle = dict[str, Any]


class MaskFormatError(ValueError):
    """A segmentation that cannot be turned into a mask; `reason` is a short stable key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _compressed(rle: dict[str, Any]) -> Rle:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def _polygons_to_rle(polys: list[Any], height: int, width: int) -> Rle:
    if polys and all(isinstance(v, int | float) for v in polys):
        polys = [polys]  # raw COCOA: one flat polygon
    if not polys:
        raise MaskFormatError("empty_segmentation", "no polygon")
    for poly in polys:
        if not isinstance(poly, list) or not all(isinstance(v, int | float) for v in poly):
            raise MaskFormatError("bad_polygon", "polygon is not a list of numbers")
        if len(poly) < 6 or len(poly) % 2:
            raise MaskFormatError("bad_polygon", f"polygon with {len(poly)} coordinates")
    rles = mask_utils.frPyObjects([[float(v) for v in p] for p in polys], height, width)
    return _compressed(mask_utils.merge(rles))


def _run_lengths(counts: str) -> list[int]:
    """Run lengths of pycocotools' compressed string (6-bit groups, offset 48; from the third
    run on, each value is a delta to the run two places before)."""
    runs: list[int] = []
    value = shift = 0
    for char in counts:
        c = ord(char) - 48
        if not 0 <= c < 64:
            raise MaskFormatError("bad_rle", f"character {char!r} in compressed counts")
        value |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:
            continue
        if c & 0x10:
            value -= 1 << shift
        runs.append(value + (runs[-2] if len(runs) > 2 else 0))
        value = shift = 0
    return runs


def _rle_dict_to_rle(rle: dict[str, Any], height: int, width: int) -> Rle:
    if "size" not in rle or "counts" not in rle:
        raise MaskFormatError("bad_rle", f"RLE keys {sorted(rle)}")
    size = [int(v) for v in rle["size"]]
    if size != [height, width]:
        raise MaskFormatError("size_mismatch", f"RLE size {size} vs image {[height, width]}")
    counts = rle["counts"]
    if isinstance(counts, list):
        if sum(counts) != height * width:
            raise MaskFormatError("bad_rle", "uncompressed counts do not cover the image")
        return _compressed(mask_utils.frPyObjects(rle, height, width))
    if not isinstance(counts, str | bytes):
        raise MaskFormatError("bad_rle", f"counts of type {type(counts).__name__}")
    out = _compressed(rle)
    runs = _run_lengths(out["counts"])
    if sum(runs) != height * width or any(r < 0 for r in runs):
        raise MaskFormatError("bad_rle", "compressed counts do not cover the image")
    return out


def to_rle(segm: Any, height: int, width: int) -> Rle:
    """Any COCO segmentation (polygon(s), compressed or uncompressed RLE) as compressed RLE."""
    if height <= 0 or width <= 0:
        raise MaskFormatError("bad_image_size", f"{height}x{width}")
    if isinstance(segm, dict):
        return _rle_dict_to_rle(segm, height, width)
    if isinstance(segm, list):
        return _polygons_to_rle(segm, height, width)
    raise MaskFormatError("bad_segmentation", f"segmentation of type {type(segm).__name__}")


def encode(mask: np.ndarray) -> Rle:
    """A 2-D boolean/0-1 mask as compressed RLE."""
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    return _compressed(mask_utils.encode(np.asfortranarray(mask.astype(np.uint8))))


def decode(rle: Rle) -> np.ndarray:
    """Compressed RLE as an HxW numpy bool array."""
    with warnings.catch_warnings():  # pycocotools' numpy-2 `__array__(copy=...)` deprecation
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def area(rle: Rle) -> int:
    return int(mask_utils.area(rle))


def bbox(rle: Rle) -> tuple[float, float, float, float]:
    """COCO xywh box of the mask (all zeros for an empty mask)."""
    x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
    return (x, y, w, h)


def intersect(a: Rle, b: Rle) -> Rle:
    return _compressed(mask_utils.merge([a, b], intersect=True))


def union(a: Rle, b: Rle) -> Rle:
    return _compressed(mask_utils.merge([a, b], intersect=False))
