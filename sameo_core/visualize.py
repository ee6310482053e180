"""Overlay drawing for amodal masks, the one drawing home of the library, the ROS node's debug
image and the demos.

Per object: the visible part tinted solid with a solid outline, the hidden part (amodal minus
visible) hatched with a dashed outline, so that what the camera sees and what SAMEO completes
behind other objects never look alike; a label on an opaque tag in the object's colour, placed
where it covers no other label (`place_labels`); and the occlusion order as arrows from each
object to the objects it hides (centre of visible part to centre of visible part). An object that
is kept while fully hidden (a track, `OverlayItem.outline_only`) is drawn as a dashed outline
alone, so that nothing is hatched over the objects in front of it.
`contact_sheet` tiles frames with captions and a block of figures into one image.
"""

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
HATCH_WIDTH = 3  # of HATCH_PERIOD pixels along a diagonal
DASH = 6  # px of each dash and gap of a hidden part's outline
FONT = cv2.FONT_HERSHEY_SIMPLEX
PAD = 2  # px around a label's text on its tag


@dataclass(frozen=True)
class OverlayItem:
    """One instance to draw: its amodal mask, optionally its visible part (a bool array of the
    same ROI; None = draw the whole mask solid), a label, a box (xyxy) to place the label at
    (None: the visible part's box), and the indices (into the drawn items) of the objects it
    hides (drawn as arrows). outline_only: a fully hidden object, drawn as a 2-px dashed outline
    without tint or hatching. colour: palette index (None: the item's position; a track id
    keeps an object's colour from frame to frame)."""

    amodal: RoiMask
    label: str = ""
    visible: np.ndarray | None = None
    box: np.ndarray | None = None
    occludes: tuple[int, ...] = ()
    outline_only: bool = False
    colour: int | None = None


def _colour(k: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in PALETTE[k % len(PALETTE)])  # type: ignore[return-value]


def _parts(item: OverlayItem, hw: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray,
                                                            np.ndarray]:  # fmt: skip
    """(image window, visible part, hidden part) of an item inside the image."""
    rows, cols, mask_rows, mask_cols = item.amodal.window(*hw)
    amodal = item.amodal.mask[mask_rows, mask_cols]
    visible = amodal if item.visible is None else item.visible[mask_rows, mask_cols] & amodal
    return (rows, cols), visible, amodal & ~visible


def _tint(out: np.ndarray, window, visible: np.ndarray, hidden: np.ndarray, color: np.ndarray,
          alpha: float) -> None:  # fmt: skip
    rows, cols = window
    yy, xx = np.mgrid[rows, cols]
    hatch = ((xx + yy) % HATCH_PERIOD) < HATCH_WIDTH
    patch = out[rows, cols]
    patch[visible] = (1 - alpha) * patch[visible] + alpha * color
    lines = hidden & hatch
    patch[lines] = 0.15 * patch[lines] + 0.85 * color  # hatch lines nearly opaque


def _contour_pixels(mask: np.ndarray) -> np.ndarray:
    """The 1-px inner border of a bool mask."""
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0)
    return mask & ~eroded.astype(bool)


def _outline(canvas: np.ndarray, window, visible: np.ndarray, hidden: np.ndarray,
             color: tuple[int, int, int], width: int = 1) -> None:  # fmt: skip
    """Solid outline around the visible part; dashed outline (`width` px) where the amodal
    border runs through the hidden part."""
    rows, cols = window
    patch = canvas[rows, cols]
    border = cv2.dilate(_contour_pixels(visible).astype(np.uint8), np.ones((2, 2), np.uint8))
    patch[border.astype(bool) & visible] = color
    yy, xx = np.mgrid[rows, cols]
    dashes = ((xx + yy) // DASH) % 2 == 0
    contour = _contour_pixels(visible | hidden)
    if width > 1:
        kernel = np.ones((width, width), np.uint8)
        contour = cv2.dilate(contour.astype(np.uint8), kernel).astype(bool) & (visible | hidden)
    patch[contour & hidden & dashes] = color


def _text_size(text: str, scale: float, thickness: int) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    return w + 2 * PAD, h + baseline + 2 * PAD


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fit(x: int, y: int, w: int, h: int, hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """A w x h label at (x, y), moved inside the image of (height, width) `hw`."""
    x = min(max(x, 0), hw[1] - w)
    y = min(max(y, 0), hw[0] - h)
    return (x, y, x + w, y + h)


def place_labels(
    sizes: Sequence[tuple[int, int]], anchors: Sequence[tuple[float, float, float, float]],
    hw: tuple[int, int],
) -> list[tuple[int, int, int, int] | None]:
    """Positions (x0, y0, x1, y1) for labels of `sizes` (w, h), each near its anchor box (xyxy),
    greedily in order: the first candidate (above the box's top-left corner, inside its top,
    below it, then left / right of it, then further away in steps of a label height), moved
    inside the image, that covers no label placed before; a label that fits nowhere goes to its
    first candidate; None for a label larger than the image (not drawn)."""
    placed: list[tuple[int, int, int, int] | None] = []
    for (w, h), (x0, y0, x1, y1) in zip(sizes, anchors):
        if w > hw[1] or h > hw[0]:
            placed.append(None)
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        candidates = [(x0, y0 - h), (x0, y0), (x0, y1), (x1 - w, y1), (x1 - w, y0 - h),
                      (x0 - w, y0), (x1, y0)]  # fmt: skip
        for step in range(1, 8):
            candidates += [(x0, y0 - h - step * h), (x0, y1 + step * h),
                           (x0 - w, y0 + step * h), (x1, y0 + step * h)]  # fmt: skip
        boxes = [_fit(x, y, w, h, hw) for x, y in candidates]
        taken = [p for p in placed if p is not None]
        free = [b for b in boxes if not any(_overlaps(b, p) for p in taken)]
        placed.append(free[0] if free else boxes[0])
    return placed


def _draw_tag(canvas: np.ndarray, text: str, tag: tuple[int, int, int, int],
              color: tuple[int, int, int], scale: float, thickness: int) -> None:  # fmt: skip
    x0, y0, x1, y1 = tag
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), color, -1)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    (_, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    cv2.putText(canvas, text, (x0 + PAD, y1 - PAD - baseline), FONT, scale, ink, thickness,
                cv2.LINE_AA)


def _centroid(mask: np.ndarray, window) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return float(xs.mean() + window[1].start), float(ys.mean() + window[0].start)


def _arrow(canvas: np.ndarray, start: tuple[float, float], end: tuple[float, float],
           color: tuple[int, int, int], thickness: int) -> None:  # fmt: skip
    """An arrow in `color` with a black rim, shortened by 10 % at each end."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, y1 - y0
    p = (int(round(x0 + 0.1 * dx)), int(round(y0 + 0.1 * dy)))
    q = (int(round(x1 - 0.1 * dx)), int(round(y1 - 0.1 * dy)))
    if p == q:
        return
    tip = min(0.4, 14.0 / max(np.hypot(q[0] - p[0], q[1] - p[1]), 1.0))
    cv2.arrowedLine(canvas, p, q, (0, 0, 0), thickness + 2, cv2.LINE_AA, tipLength=tip)
    cv2.arrowedLine(canvas, p, q, color, thickness, cv2.LINE_AA, tipLength=tip)


def label_scale(hw: tuple[int, int]) -> tuple[float, int]:
    """Font scale and thickness of labels on an image of (height, width): legible at 640x480
    and larger, small on small images."""
    side = min(hw)
    if side >= 720:
        return 0.7, 2
    if side >= 360:
        return 0.5, 1
    return 0.35, 1


def draw_overlay(rgb: np.ndarray, items: Sequence[OverlayItem], alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 [H, W, 3] copy of `rgb` with every item drawn on it (module docstring)."""
    hw = rgb.shape[:2]
    out = rgb.astype(np.float32)
    parts = [_parts(item, hw) for item in items]
    keys = [k if item.colour is None else item.colour for k, item in enumerate(items)]
    for k, (window, visible, hidden) in enumerate(parts):
        if not items[k].outline_only:
            _tint(out, window, visible, hidden, PALETTE[keys[k] % len(PALETTE)], alpha)
    canvas = np.clip(out, 0, 255).astype(np.uint8)
    for k, (window, visible, hidden) in enumerate(parts):
        _outline(canvas, window, visible, hidden, _colour(keys[k]),
                 2 if items[k].outline_only else 1)  # fmt: skip
    scale, thickness = label_scale(hw)
    centroids = [_centroid(visible, window) for window, visible, _ in parts]
    for k, item in enumerate(items):  # occlusion order: arrows to the objects each one hides
        for j in item.occludes:
            if 0 <= j < len(items) and centroids[k] is not None and centroids[j] is not None:
                _arrow(canvas, centroids[k], centroids[j], _colour(keys[k]), thickness + 1)
    labelled = [k for k, item in enumerate(items) if item.label]
    sizes = [_text_size(items[k].label, scale, thickness) for k in labelled]
    anchors = [_anchor(items[k], parts[k], hw) for k in labelled]
    for k, tag in zip(labelled, place_labels(sizes, anchors, hw)):
        if tag is not None:
            _draw_tag(canvas, items[k].label, tag, _colour(keys[k]), scale, thickness)
    return canvas


def _anchor(item: OverlayItem, part, hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where an item's label goes: its box, else the box of its visible part, else its mask's."""
    if item.box is not None:
        return tuple(float(v) for v in item.box)  # type: ignore[return-value]
    window, visible, hidden = part
    mask = visible if visible.any() else (visible | hidden)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        x, y = item.amodal.offset
        return (float(x), float(y), float(x), float(y))
    x0, y0 = window[1].start, window[0].start
    return (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)


def contact_sheet(
    tiles: Sequence[np.ndarray], captions: Sequence[str], header: Sequence[str],
    columns: int = 3, margin: int = 8,
) -> np.ndarray:
    """One RGB image of `tiles` (RGB uint8, any sizes; each scaled to the first one's size) in a
    grid of `columns`, each with its caption under it, below a header of text lines (the
    figures). Text is drawn at the label size of the tiles."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    if len(captions) != len(tiles):
        raise ValueError(f"{len(tiles)} tiles but {len(captions)} captions")
    th, tw = tiles[0].shape[:2]
    scale, thickness = label_scale((th, tw))
    line_h = _text_size("Ag", scale, thickness)[1] + 2
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    cell_h = th + line_h + margin
    head_h = line_h * len(header) + margin
    sheet = np.full((head_h + rows * cell_h + margin, columns * (tw + margin) + margin, 3), 255,
                    np.uint8)  # fmt: skip
    for n, line in enumerate(header):
        cv2.putText(sheet, line, (margin, margin + (n + 1) * line_h - 4), FONT, scale, (0, 0, 0),
                    thickness + (n == 0), cv2.LINE_AA)  # fmt: skip
    for k, (tile, caption) in enumerate(zip(tiles, captions)):
        r, c = divmod(k, columns)
        y, x = head_h + r * cell_h, margin + c * (tw + margin)
        if tile.shape[:2] != (th, tw):
            tile = cv2.resize(tile, (tw, th), interpolation=cv2.INTER_AREA)
        sheet[y : y + th, x : x + tw] = tile
        cv2.putText(sheet, caption, (x, y + th + line_h - 4), FONT, scale, (0, 0, 0), thickness,
                    cv2.LINE_AA)  # fmt: skip
    return sheet


LEGEND = ("solid: visible part; hatched, dashed outline: hidden part (amodal completion); "
          "arrow A -> B: A hides B; rN: layer N, r0 = nothing in front")
TRACKS_LEGEND = ("#N: track id; dashed outline alone: an object kept while fully hidden "
                 "(hidden T s: since last seen)")
