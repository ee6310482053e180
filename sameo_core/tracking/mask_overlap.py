"""Pixel arithmetic of two `RoiMask` crops on the overlap of their regions only: the tracker's
inner loops (association, visible shares, shape memory), where a full-size copy per pair
(`RoiMask.aligned`, `RoiMask.crop`) cost more than the pixels themselves. Each function says
which `RoiMask` expression it equals (test/tracking/test_mask_overlap.py checks them)."""

from __future__ import annotations

import numpy as np

from sameo_core.geometry import RoiMask

Slices = tuple[slice, slice]

_count_nonzero = np.count_nonzero


def overlap_slices(a_offset: tuple[int, int], a_shape: tuple[int, ...],
                   b_offset: tuple[int, int], b_shape: tuple[int, ...]
                   ) -> tuple[Slices, Slices] | None:  # fmt: skip
    """(rows, cols) of region a and of region b (image offsets (x0, y0), array shapes (h, w))
    that cover the same image pixels; None when the regions do not overlap."""
    ax, ay = a_offset
    bx, by = b_offset
    ah, aw = a_shape[:2]
    bh, bw = b_shape[:2]
    x0 = ax if ax > bx else bx
    x1 = ax + aw if ax + aw < bx + bw else bx + bw
    if x1 <= x0:
        return None
    y0 = ay if ay > by else by
    y1 = ay + ah if ay + ah < by + bh else by + bh
    if y1 <= y0:
        return None
    return ((slice(y0 - ay, y1 - ay), slice(x0 - ax, x1 - ax)),
            (slice(y0 - by, y1 - by), slice(x0 - bx, x1 - bx)))  # fmt: skip


def intersection(a: RoiMask, b: RoiMask) -> int:
    """|a ∩ b| in pixels (`count_nonzero(a.mask & a.aligned(b))`)."""
    window = overlap_slices(a.offset, a.mask.shape, b.offset, b.mask.shape)
    if window is None:
        return 0
    return int(_count_nonzero(a.mask[window[0]] & b.mask[window[1]]))


def mask_iou(
    a: RoiMask, b: RoiMask, area_a: int | None = None, area_b: int | None = None
) -> float:
    """IoU of two ROI masks (0 when both are empty)."""
    inter = intersection(a, b)
    union = (a.area if area_a is None else area_a) + (b.area if area_b is None else area_b) - inter
    return inter / union if union > 0 else 0.0


def under(region: RoiMask, full: np.ndarray) -> np.ndarray:
    """`region.crop(full)`, to be read only: a view of the full-image array when the region lies
    inside the image (no copy), else crop's zero-padded copy."""
    x0, y0 = region.offset
    h, w = region.mask.shape
    if x0 >= 0 and y0 >= 0 and x0 + w <= full.shape[1] and y0 + h <= full.shape[0]:
        return full[y0 : y0 + h, x0 : x0 + w]
    return region.crop(full)


def clear(pixels: np.ndarray, offset: tuple[int, int], other: RoiMask) -> None:
    """`pixels &= ~RoiMask(pixels, offset).aligned(other)`, in place: the pixels of a region at
    `offset` that `other` sets are cleared."""
    window = overlap_slices(offset, pixels.shape, other.offset, other.mask.shape)
    if window is not None:
        mine = pixels[window[0]]
        np.greater(mine, other.mask[window[1]], out=mine)  # a > b is a & ~b on bools


def keep_where(updated: np.ndarray, previous: np.ndarray, offset: tuple[int, int],
               other: RoiMask) -> None:
    """`updated[keep] = previous[keep]` with `keep = RoiMask(updated, offset).aligned(other)`,
    in place (two arrays of one region at `offset`)."""
    window = overlap_slices(offset, updated.shape, other.offset, other.mask.shape)
    if window is not None:
        np.copyto(updated[window[0]], previous[window[0]], where=other.mask[window[1]])


__all__ = ["clear", "intersection", "keep_where", "mask_iou", "overlap_slices", "under"]
