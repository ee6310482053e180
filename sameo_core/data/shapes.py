"""Procedural complete objects: textured shapes on textured, noisy backgrounds.

Every function takes a `numpy.random.Generator`, so a seed fixes the output. Images are RGB
uint8; masks are bool and cropped tight to the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sameo_core.geometry import RoiMask

SHAPE_KINDS: tuple[str, ...] = (
    "ellipse", "rectangle", "rotated_rectangle", "triangle", "star", "polygon", "blob",
)  # fmt: skip
CATEGORIES: list[dict[str, object]] = [
    {"id": i + 1, "name": kind} for i, kind in enumerate(SHAPE_KINDS)
]


@dataclass(frozen=True)
class ObjectPatch:
    """A complete object cut out of its image: pixels and mask of the same HxW."""

    pixels: np.ndarray  # HxWx3 uint8 RGB
    mask: np.ndarray  # HxW bool, tight (touches all four sides)
    category_id: int


def _polygon(rng: np.random.Generator, kind: str, w: int, h: int) -> np.ndarray:
    """Vertices (N x 2, float) of a shape inscribed in the w x h box centred at the origin."""
    if kind == "rectangle":
        return np.array([[-w, -h], [w, -h], [w, h], [-w, h]], float) / 2
    if kind == "triangle":
        apex = rng.uniform(-0.5, 0.5) * w
        return np.array([[apex, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], float)
    n = {"star": 2 * int(rng.integers(5, 8)), "polygon": int(rng.integers(5, 9))}.get(kind, 40)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n)) if kind == "polygon" else None
    if angles is None:
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = np.ones(n)
    if kind == "star":
        radius[1::2] = rng.uniform(0.35, 0.6)
    elif kind == "blob":  # smooth random radial profile
        for k in range(1, 4):
            radius += rng.uniform(0, 0.25 / k) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
    return np.stack([np.cos(angles) * radius * w / 2, np.sin(angles) * radius * h / 2], 1)


def shape_mask(rng: np.random.Generator, kind: str, width: int, height: int) -> np.ndarray:
    """A tight bool mask of one `kind` of shape, about width x height pixels."""
    if kind not in SHAPE_KINDS:
        raise ValueError(f"unknown shape kind {kind!r}; known: {SHAPE_KINDS}")
    side = 2 * max(width, height) + 4
    canvas = np.zeros((side, side), np.uint8)
    if kind == "ellipse":
        angle = float(rng.uniform(0, 180))
        axes = (width // 2, height // 2)
        cv2.ellipse(canvas, (side // 2, side // 2), axes, angle, 0, 360, 1, -1)
    else:
        pts = _polygon(rng, "rectangle" if kind == "rotated_rectangle" else kind, width, height)
        if kind in ("rotated_rectangle", "triangle", "star", "polygon"):
            theta = rng.uniform(0, 2 * np.pi)
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            pts = pts @ rot.T
        cv2.fillPoly(canvas, [np.round(pts + side / 2).astype(np.int32)], 1)
    return RoiMask.from_full(canvas.astype(bool)).mask


def _low_frequency(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    grid = rng.random((cells, cells, 3)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _noise(rng: np.random.Generator, h: int, w: int, sigma: float, scale: float) -> np.ndarray:
    """Per-pixel Gaussian noise [h, w, 3]; at `scale` > 1 drawn on a grid `scale` times coarser
    and resized (bilinear), so that a scene painted `scale` times larger looks the same once
    resized back."""
    if scale == 1.0:
        return rng.normal(0, sigma, (h, w, 3)).astype(np.float32)
    small = rng.normal(0, sigma, (max(1, round(h / scale)), max(1, round(w / scale)), 3))
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def texture(rng: np.random.Generator, h: int, w: int, scale: float = 1.0) -> np.ndarray:
    """A random object texture: base colour with stripes, checks or blotches, plus noise.
    `scale` multiplies the pattern's period and the noise grain (1: the training scenes')."""
    base = rng.uniform(20, 235, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pattern = int(rng.integers(0, 3))
    period = float(rng.uniform(4, 16)) * scale
    if pattern == 0:  # stripes at a random angle
        theta = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period)[..., None]
    elif pattern == 1:  # checks
        wave = (((xx // period) + (yy // period)) % 2 * 2 - 1)[..., None]
    else:  # blotches
        wave = _low_frequency(rng, h, w, 5) * 2 - 1
    contrast = rng.uniform(10, 50, 3).astype(np.float32)
    noise = _noise(rng, h, w, 6, scale)
    return np.clip(base + wave * contrast + noise, 0, 255).astype(np.uint8)


def background(rng: np.random.Generator, h: int, w: int, scale: float = 1.0) -> np.ndarray:
    """A textured, noisy scene background with a few random lines (`scale`: as `texture`'s,
    also the lines' width)."""
    low = _low_frequency(rng, h, w, int(rng.integers(3, 9)))
    lo, hi = np.sort(rng.uniform(0, 255, (2, 3)), axis=0).astype(np.float32)
    img = lo + low * (hi - lo) + _noise(rng, h, w, 10, scale)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        p1 = tuple(int(v) for v in rng.integers(0, (w, h)))
        p2 = tuple(int(v) for v in rng.integers(0, (w, h)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.line(img, p1, p2, colour, max(1, round(int(rng.integers(1, 4)) * scale)))
    return img


def random_object(
    rng: np.random.Generator, min_side: int, max_side: int, texture_scale: float = 1.0
) -> ObjectPatch:
    """A textured shape whose longer side is in [min_side, max_side] pixels (`texture_scale`:
    `texture`'s scale)."""
    if not 3 <= min_side <= max_side:
        raise ValueError(f"need 3 <= min_side <= max_side, got {min_side}, {max_side}")
    kind_index = int(rng.integers(len(SHAPE_KINDS)))
    long_side = int(rng.integers(min_side, max_side + 1))
    short_side = max(3, int(long_side * rng.uniform(0.5, 1.0)))
    w, h = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    mask = shape_mask(rng, SHAPE_KINDS[kind_index], w, h)
    scale = max_side / max(mask.shape)
    if scale < 1.0:  # rotation can enlarge the extent; keep the promised bound
        size = (max(1, int(mask.shape[1] * scale)), max(1, int(mask.shape[0] * scale)))
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    pixels = texture(rng, *mask.shape, scale=texture_scale)
    return ObjectPatch(pixels, mask, kind_index + 1)
