"""Upsampling of one chosen low-resolution mask, only inside its region of interest.

The official inference path bicubic-upsamples all three low-res logit maps of every box to the
full image. Bicubic interpolation is separable and linear, so one output crop equals
`Ry @ logits @ Rxᵀ`, with Ry / Rx rows of the 1-D interpolation matrices: we compute exactly the
official values, but only for the pixels near the mask.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from .host_syncs import copy_to_host

# A bicubic tap reaches 2 input pixels on either side of the sampling position.
_SUPPORT = 2
# Bicubic weights (a = -0.75) have lobes ≥ -0.112 each, so for one output value the 2-D weights
# that are negative sum to at most ((1 + 2 * 0.112)^2 - 1) / 2 < 0.25 in magnitude. The output
# can therefore exceed the maximum of its 4x4 inputs by at most 0.25 * (max - min).
_OVERSHOOT = 0.25


@functools.lru_cache(maxsize=32)
def _bicubic_matrix_cached(in_size: int, out_size: int, device: str) -> torch.Tensor:
    identity = torch.eye(in_size, device=device)[None, None]
    # Interpolating the identity along one axis gives weight[input, output] exactly as
    # F.interpolate(mode="bicubic", align_corners=False) applies them.
    return F.interpolate(identity, (in_size, out_size), mode="bicubic", align_corners=False)[0, 0]


def bicubic_matrix(
    in_size: int, out_size: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """[in_size, out_size] weights of 1-D bicubic resampling (align_corners=False)."""
    return _bicubic_matrix_cached(in_size, out_size, str(device))


def _output_span(first: int, last: int, in_size: int, out_size: int) -> tuple[int, int]:
    """Output pixels [start, stop) whose bicubic taps touch input pixels first..last."""
    scale = in_size / out_size
    start = math.floor((first - _SUPPORT + 0.5) / scale - 0.5)
    stop = math.ceil((last + _SUPPORT + 0.5) / scale - 0.5) + 1
    return max(start, 0), min(stop, out_size)


def _may_reach(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """Low-res pixels near which the bicubic upsampling may reach `threshold` (conservative)."""
    window = 2 * _SUPPORT + 1
    high = F.max_pool2d(logits[None, None], window, stride=1, padding=_SUPPORT)[0, 0]
    low = -F.max_pool2d(-logits[None, None], window, stride=1, padding=_SUPPORT)[0, 0]
    return high + _OVERSHOOT * (high - low) >= threshold


def upsample_mask_roi(
    logits: torch.Tensor, out_size: tuple[int, int], threshold: float = 0.0
) -> tuple[np.ndarray, tuple[int, int]]:
    """Binary mask of `logits` [h, w] bicubic-upsampled to out_size=(H, W), as a tight crop.

    Returns (mask bool [rh, rw], (x0, y0) offset of the crop in the output image), equal to
    thresholding the full `F.interpolate(..., mode="bicubic")` output: the region computed is
    bounded conservatively, bicubic overshoot included. An empty mask is a [0, 0] crop at (0, 0).
    """
    positive = _may_reach(logits, threshold)
    rows = torch.nonzero(positive.any(dim=1)).flatten()
    cols = torch.nonzero(positive.any(dim=0)).flatten()
    if rows.numel() == 0:
        return np.zeros((0, 0), bool), (0, 0)
    (h, w), (out_h, out_w) = logits.shape, out_size
    y0, y1 = _output_span(int(rows[0]), int(rows[-1]), h, out_h)
    x0, x1 = _output_span(int(cols[0]), int(cols[-1]), w, out_w)
    ry = bicubic_matrix(h, out_h, logits.device)[:, y0:y1].to(logits.dtype)
    rx = bicubic_matrix(w, out_w, logits.device)[:, x0:x1].to(logits.dtype)
    mask = (ry.T @ logits @ rx) >= threshold
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    if rows.numel() == 0:
        return np.zeros((0, 0), bool), (0, 0)
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = copy_to_host(mask[top:bottom, left:right])
    return crop, (x0 + left, y0 + top)
