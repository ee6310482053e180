"""Overlay drawing for amodal masks: visible part tinted solid, occluded part hatched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from sameo_core.geometry import RoiMask

PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128),
], np.float32)
HATCH_PERIOD = 8


@dataclass(frozen=True)
class OverlayItem:
    """One instance to draw: its amodal mask, optionally its visible part (a bool array of the
    same ROI; None = draw the whole mask solid), a label and a box (xyxy) to place it at."""

    amodal: RoiMask
    label: str = ""
    visible: np.ndarray | None = None
    box: np.ndarray | None = None


def _tint(out: np.ndarray, item: OverlayItem, color: np.ndarray, alpha: float) -> None:
    rows, cols, mask_rows, mask_cols = item.amodal.window(*out.shape[:2])
    amodal = item.amodal.mask[mask_rows, mask_cols]
    visible = amodal if item.visible is None else item.visible[mask_rows, mask_cols] & amodal
    yy, xx = np.mgrid[rows, cols]
    hatch = ((xx + yy) % HATCH_PERIOD) < 3
    paint = visible | (amodal & ~visible & hatch)
    patch = out[rows, cols]
    patch[paint] = (1 - alpha) * patch[paint] + alpha * color


def _outline(canvas: np.ndarray, item: OverlayItem, color: tuple[int, ...]) -> None:
    contours, _ = cv2.findContours(item.amodal.mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    offset = tuple(int(v) for v in item.amodal.offset)
    cv2.drawContours(canvas, contours, -1, color, 1, offset=offset)
    if item.box is not None:
        x0, y0, x1, y1 = (int(round(float(v))) for v in item.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, 1)
        origin = (x0 + 2, max(y0 + 12, 12))
    else:
        origin = (offset[0] + 2, max(offset[1] + 12, 12))
    if item.label:
        cv2.putText(canvas, item.label, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1,
                    cv2.LINE_AA)


def draw_overlay(rgb: np.ndarray, items: Sequence[OverlayItem], alpha: float = 0.55) -> np.ndarray:
    """RGB uint8 [H, W, 3] copy of `rgb` with every item drawn on it."""
    out = rgb.astype(np.float32)
    for k, item in enumerate(items):
        _tint(out, item, PALETTE[k % len(PALETTE)], alpha)
    canvas = np.clip(out, 0, 255).astype(np.uint8)
    for k, item in enumerate(items):
        _outline(canvas, item, tuple(int(c) for c in PALETTE[k % len(PALETTE)]))
    return canvas
