"""A track's amodal shape: the running average of its most visible views, kept relative to the
motion model's centre, so that a hidden object can be drawn where the motion model puts it.

One view of SAMEO is noisy (a few pixels at the border, and less completion of the hidden part
the less is seen), so the shape is an exponential moving average of the views in which the object
is visible enough (visible share ≥ the tracker's `visible_threshold`), each weighted `rate`, and
the carried mask is the average thresholded at 1/2 (a per-pixel majority of the recent views).
Views are placed by where they are in the image relative to the motion model's centre at that
frame (never re-centred on their own box: a view that completes too little then only lowers the
weight of the pixels it misses, instead of shifting the whole shape). While the object has only
been seen partly hidden, the most visible view so far is the shape.
"""

from __future__ import annotations

import itertools

import numpy as np

from sameo_core.geometry import RoiMask

from .mask_overlap import keep_where

_VERSIONS = itertools.count(1)  # every binarized shape of every memory gets its own number


class ShapeMemory:
    """The averaged amodal shape of one track (module docstring)."""

    def __init__(self, view: RoiMask, centre: tuple[float, float], share: float) -> None:
        self._reset(view, centre, share)

    def _reset(self, view: RoiMask, centre: tuple[float, float], share: float) -> None:
        self.weights = view.mask.astype(np.float32)
        # image position of weights[0, 0] minus the centre (float: the centre moves sub-pixel)
        self.origin = (view.offset[0] - centre[0], view.offset[1] - centre[1])
        self.share = share
        self._binarize()

    def _binarize(self) -> None:
        shape = RoiMask(self.weights >= 0.5, (0, 0)).tight()
        self._mask, self._inner = shape.mask, shape.offset
        self.area = shape.area
        self.version = next(_VERSIONS)  # what `at` draws changed (the tracker's caches)

    def add(self, view: RoiMask, centre: tuple[float, float], share: float, threshold: float,
            rate: float, unseen: RoiMask | None = None) -> bool:
        """Take one view of visible share `share`; returns whether the shape changed. Pixels
        of `unseen` (hidden by other objects in this frame) keep their weight: a view says
        nothing about where the object is hidden."""
        if not view.area:
            return False
        if share < threshold:
            if share > self.share:  # only partial views so far: keep the most visible one
                self._reset(view, centre, share)
                return True
            return False
        if self.share < threshold:  # the first view seen visible enough replaces partial ones
            self._reset(view, centre, share)
            return True
        # the view's position on the weights grid, growing the grid to hold it
        x = round(view.offset[0] - centre[0] - self.origin[0])
        y = round(view.offset[1] - centre[1] - self.origin[1])
        h, w = view.mask.shape
        H, W = self.weights.shape
        left, top = max(0, -x), max(0, -y)
        right, bottom = max(0, x + w - W), max(0, y + h - H)
        if left or top or right or bottom:
            self.weights = np.pad(self.weights, ((top, bottom), (left, right)))
            self.origin = (self.origin[0] - left, self.origin[1] - top)
            x, y = x + left, y + top
        # weights·(1 - rate) + rate·view: the view's pixels get float32(rate) added in place
        # (the same float32 sums as adding a full-size target of rate and 0)
        updated = self.weights * (1.0 - rate)
        window = updated[y : y + h, x : x + w]
        np.add(window, rate, out=window, where=view.mask)
        if unseen is not None and unseen.area:
            keep_where(updated, self.weights, (view.offset[0] - x, view.offset[1] - y), unseen)
        self.weights = updated
        self.share = max(self.share, share)
        self._binarize()
        if not self.area:  # views that disagree everywhere: start again from this one
            self._reset(view, centre, share)
        return True

    def at(self, centre: tuple[float, float]) -> RoiMask:
        """The shape drawn with the motion model's centre at `centre`."""
        x = round(centre[0] + self.origin[0]) + self._inner[0]
        y = round(centre[1] + self.origin[1]) + self._inner[1]
        return RoiMask(self._mask, (x, y))


__all__ = ["ShapeMemory"]
