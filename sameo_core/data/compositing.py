"""Placing an occluder so that it hides a requested share of a target (paper, section 3.3).

The placement is steered with boxes, as in the paper: the occluder slides from the target's
centre along a random direction until the *box* overlap equals a sampled rate; the true *mask*
occlusion rate of that position is then measured and the position is rejected (and a new rate
and direction drawn) when it falls outside the requested range.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sameo_core.data.shapes import ObjectPatch
from sameo_core.geometry import mask_box


@dataclass(frozen=True)
class Placement:
    top: int
    left: int
    rate: float  # measured mask occlusion rate of the target


def rescale(obj: ObjectPatch, scale: float) -> ObjectPatch:
    """`obj` resized by `scale` (aspect ratio kept; at least 1 px each way)."""
    h, w = obj.mask.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    mask = cv2.resize(obj.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if not mask.any():
        mask[mask.shape[0] // 2, mask.shape[1] // 2] = True
    pixels = cv2.resize(obj.pixels, size, interpolation=cv2.INTER_LINEAR)
    return ObjectPatch(pixels, mask, obj.category_id)


def normalise_size(
    obj: ObjectPatch,
    target_area: int,
    canvas: tuple[int, int],
    rng: np.random.Generator,
    jitter: tuple[float, float],
) -> ObjectPatch:
    """Rescale `obj` so its mask area is `target_area` times a random factor in `jitter`,
    keeping its aspect ratio and never exceeding the canvas."""
    factor = np.sqrt(target_area * rng.uniform(*jitter) / max(1, int(obj.mask.sum())))
    fit = min((canvas[0] - 2) / obj.mask.shape[0], (canvas[1] - 2) / obj.mask.shape[1])
    return rescale(obj, float(min(factor, fit)))


def _box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih


def _slide_to_box_rate(
    target: tuple[int, int, int, int], size: tuple[int, int], direction: np.ndarray, rate: float
) -> tuple[float, float]:
    """Centre of an occluder box of `size` (h, w) on the ray from the target centre along
    `direction` whose box covers `rate` of the target box (bisection; overlap is monotone)."""
    cx, cy = (target[0] + target[2]) / 2, (target[1] + target[3]) / 2
    t_area = (target[2] - target[0]) * (target[3] - target[1])
    h, w = size

    def covered(t: float) -> float:
        x, y = cx + t * direction[0], cy + t * direction[1]
        return _box_overlap(target, (x - w / 2, y - h / 2, x + w / 2, y + h / 2)) / t_area

    lo, hi = 0.0, float(target[2] - target[0] + target[3] - target[1] + w + h)
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if covered(mid) > rate else (lo, mid)
    return cx + lo * direction[0], cy + lo * direction[1]


def occlusion_rate(target: np.ndarray, occluder: np.ndarray, top: int, left: int) -> float:
    """Share of `target` (full-canvas mask) hidden by `occluder` pasted at (top, left)."""
    h, w = occluder.shape
    hidden = np.count_nonzero(target[top : top + h, left : left + w] & occluder)
    return hidden / max(1, int(np.count_nonzero(target)))


def place_occluder(
    rng: np.random.Generator,
    target: np.ndarray,
    occluder: np.ndarray,
    rate_range: tuple[float, float],
    attempts: int,
) -> Placement | None:
    """A position (fully inside the canvas) of `occluder` hiding a share of `target` within
    `rate_range`, or None when `attempts` draws all miss."""
    lo, hi = rate_range
    box = tuple(int(v) for v in mask_box(target))
    oh, ow = occluder.shape
    for _ in range(attempts):
        angle = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        cx, cy = _slide_to_box_rate(box, (oh, ow), direction, float(rng.uniform(lo, hi)))
        top, left = round(cy - oh / 2), round(cx - ow / 2)
        if top < 0 or left < 0 or top + oh > target.shape[0] or left + ow > target.shape[1]:
            continue
        rate = occlusion_rate(target, occluder, top, left)
        if lo <= rate <= hi:
            return Placement(top, left, rate)
    return None


def paste(
    image: np.ndarray, obj: ObjectPatch, top: int, left: int, feather: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(`image` with `obj` pasted by its mask, full-canvas bool mask of `obj`). With `feather`
    the pixels get a 1-px soft edge; the returned mask (the ground truth) stays binary."""
    h, w = obj.mask.shape
    full = np.zeros(image.shape[:2], bool)
    full[top : top + h, left : left + w] = obj.mask
    out = image.copy()
    region = out[top : top + h, left : left + w]
    if feather:
        alpha = cv2.GaussianBlur(obj.mask.astype(np.float32), (3, 3), 0.6)[..., None]
        alpha = np.maximum(alpha, obj.mask[..., None])  # object pixels stay fully opaque
        blend = alpha * obj.pixels + (1 - alpha) * region
        region[...] = np.round(blend).astype(np.uint8)
    else:
        region[obj.mask] = obj.pixels[obj.mask]
    return out, full
