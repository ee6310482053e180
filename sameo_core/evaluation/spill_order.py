"""Baseline: the depth order the ROS node guessed before there was a modal head ("spill order").

Rule (the node's former visibility estimate, kept here to be measured against the occlusion order
of `sameo_core.inference.occlusion_order`): the less of an instance's amodal mask lies outside
its own prompt box (a detector boxes what it sees), the further in front it is taken to be; ties
put the later detection in front. An instance's visible mask is then its amodal mask inside the
image minus the amodal masks of every instance in front of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sameo_core.geometry import RoiMask


def spill(amodal: RoiMask, prompt_box: np.ndarray) -> float:
    """Share of the mask's pixels outside the (rounded) xyxy prompt box; 1 for an empty mask."""
    area = amodal.area
    if area == 0:
        return 1.0
    x0, y0, x1, y1 = np.rint(prompt_box).astype(int).tolist()
    box = RoiMask(np.ones((max(y1 - y0, 0), max(x1 - x0, 0)), bool), (x0, y0))
    return 1.0 - amodal.intersect(box).area / area


def spill_front_to_back(
    amodal: Sequence[RoiMask], prompt_boxes: Sequence[np.ndarray]
) -> list[int]:
    """Indices from front to back: by increasing spill, the later index first on ties."""
    spills = [spill(m, b) for m, b in zip(amodal, prompt_boxes)]
    return sorted(range(len(amodal)), key=lambda i: (spills[i], -i))


def visible_from_order(
    amodal: Sequence[RoiMask], front_to_back: Sequence[int], image_hw: tuple[int, int]
) -> list[RoiMask]:
    """Each amodal mask (inside the image) minus the masks in front of it, as tight crops."""
    covered = np.zeros(image_hw, bool)  # pixels taken by an instance further in front
    result: list[RoiMask] = [RoiMask.empty()] * len(amodal)
    for i in front_to_back:
        inside = amodal[i].inside(*image_hw)
        shown = inside.mask & ~inside.crop(covered)
        rows, cols, mask_rows, mask_cols = inside.window(*image_hw)
        covered[rows, cols] |= inside.mask[mask_rows, mask_cols]
        result[i] = RoiMask(shown, inside.offset).tight()
    return result


__all__ = ["spill", "spill_front_to_back", "visible_from_order"]
