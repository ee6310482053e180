"""Validation of box prompts coming from a detector (NaN, degenerate and out-of-image boxes)."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_area, clip_boxes_to_image

NON_FINITE = "non-finite coordinate"
DEGENERATE = "zero or negative width/height"
OUTSIDE = "entirely outside the image"
BAD_SCORE = "non-finite detector score"


def as_box_array(boxes: object) -> np.ndarray:
    """Any [N, 4] array-like of numbers → float64 [N, 4]; a clear error for anything else."""
    array = np.asarray(boxes, dtype=np.float64) if not isinstance(boxes, np.ndarray) else boxes
    if array.dtype.kind not in "fiu":
        raise TypeError(f"boxes must be numeric, got dtype {array.dtype}")
    if array.size == 0:
        return np.zeros((0, 4), np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4] (x1, y1, x2, y2), got {array.shape}")
    return array.astype(np.float64, copy=False)


def sanitize_boxes(
    boxes: np.ndarray, image_size: tuple[int, int], scores: np.ndarray | None = None
) -> tuple[np.ndarray, dict[int, str]]:
    """Clip xyxy boxes to the image and find the unusable ones.

    Returns the clipped boxes [N, 4] (rows of rejected boxes are meaningless) and
    {index: reason} for boxes that are non-finite, have zero/negative size (x2 ≤ x1 or y2 ≤ y1
    as given), lie entirely outside the image, or carry a non-finite score.
    """
    height, width = image_size
    rejected: dict[int, str] = {}
    finite = np.isfinite(boxes).all(axis=1)
    safe = np.where(finite[:, None], boxes, 0.0)
    degenerate = (safe[:, 2] <= safe[:, 0]) | (safe[:, 3] <= safe[:, 1])
    clipped = clip_boxes_to_image(torch.from_numpy(safe.copy()), (height, width))
    outside = (box_area(clipped) <= 0).numpy()
    for i in range(len(boxes)):
        if not finite[i]:
            rejected[i] = NON_FINITE
        elif degenerate[i]:
            rejected[i] = DEGENERATE
        elif outside[i]:
            rejected[i] = OUTSIDE
        elif scores is not None and not np.isfinite(scores[i]):
            rejected[i] = BAD_SCORE
    return clipped.numpy(), rejected
