"""Debug overlay of one frame's masks, drawn with sameo_core.visualize (visible part tinted solid,
occluded part hatched, id, score and visible share as label)."""

from __future__ import annotations

import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.visualize import OverlayItem
from sameo_core.visualize import draw_overlay as draw_items

from .pipeline import MaskRecord


def draw_overlay(rgb: np.ndarray, records: list[MaskRecord]) -> np.ndarray:
    """RGB uint8 [H, W, 3] copy of `rgb` with every record drawn on it."""
    items = [
        OverlayItem(
            amodal=RoiMask(r.mask, r.offset),
            visible=r.visible,
            box=r.prompt_box,
            label=f"{r.id} {r.score:.2f} vis {r.visible_fraction:.0%}",
        )
        for r in records
    ]
    return draw_items(rgb, items)
