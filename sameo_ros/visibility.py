"""Which part of each amodal mask is visible, estimated from the masks of one frame alone.

Depth order: the less of an instance's amodal mask lies outside its own prompt box (the detector
boxes what it sees), the further in front it is taken to be (ties: the later detection in front).
An instance's visible mask is its amodal mask inside the image minus the amodal masks of every
instance in front of it: going from front to back, each instance shows the pixels of its mask that
no instance before it covered.
"""

from __future__ import annotations

import numpy as np

from sameo_core.geometry import RoiMask


def _spill(mask: np.ndarray, offset: tuple[int, int], prompt_box: np.ndarray) -> float:
    """Share of the mask's pixels outside the prompt box (0 = fully inside)."""
    area = np.count_nonzero(mask)
    if area == 0:
        return 1.0
    x0, y0 = offset
    bx0, by0, bx1, by1 = np.rint(prompt_box).astype(int).tolist()
    left, top = max(bx0 - x0, 0), max(by0 - y0, 0)
    inside = np.count_nonzero(mask[top : max(by1 - y0, top), left : max(bx1 - x0, left)])
    return 1.0 - inside / area


def visible_masks(
    masks: list[np.ndarray],
    offsets: list[tuple[int, int]],
    prompt_boxes: list[np.ndarray],
    image_hw: tuple[int, int],
) -> list[np.ndarray]:
    """Visible part (bool, same ROI as the amodal crop) of each amodal mask."""
    spills = [_spill(m, o, b) for m, o, b in zip(masks, offsets, prompt_boxes)]
    front_to_back = sorted(range(len(masks)), key=lambda i: (spills[i], -i))
    covered = np.zeros(image_hw, bool)  # pixels taken by an instance further in front
    result: list[np.ndarray] = [np.empty(0, bool)] * len(masks)  # each slot filled below
    for i in front_to_back:
        mask = masks[i]
        rows, cols, mask_rows, mask_cols = RoiMask(mask, offsets[i]).window(*image_hw)
        window, inside = covered[rows, cols], mask[mask_rows, mask_cols]
        shown = np.greater(inside, window)  # inside and not covered
        np.logical_or(window, inside, out=window)
        if shown.shape != mask.shape:  # the ROI leaves the image
            visible = np.zeros_like(mask)
            visible[mask_rows, mask_cols] = shown
            shown = visible
        result[i] = shown
    return result


def visible_fraction(amodal: np.ndarray, visible: np.ndarray) -> float:
    """|visible| / |amodal|; NaN for an empty mask."""
    area = np.count_nonzero(amodal)
    return np.count_nonzero(visible) / area if area else float("nan")
