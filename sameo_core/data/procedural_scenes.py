"""In-process procedural amodal scenes for on-the-fly (CPU-scale) training.

`generate_scene(rng, config)` paints 2-4 textured shapes, back to front, on a textured
background. Each new shape either lands in free space (unoccluded) or is placed with
`place_occluder` to hide part of an earlier shape; the scene is accepted only when every
instance is either unoccluded or occluded within `config.occlusion_range`, so the
ground truth always matches the requested distribution. Each instance also knows its true layer
order: `occluded_by` lists the instances painted in front of it whose amodal masks overlap its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sameo_core.data.compositing import Placement, occlusion_rate, paste, place_occluder
from sameo_core.data.shapes import CATEGORIES, ObjectPatch, background, random_object
from sameo_core.geometry import mask_boxes, xyxy_to_xywh

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SceneInstance:
    amodal_mask: np.ndarray  # HxW bool
    visible_mask: np.ndarray  # HxW bool, subset of amodal_mask
    amodal_box: Box  # COCO xywh
    visible_box: Box
    occlusion_rate: float
    category_id: int
    category_name: str
    # Layer order: indices (in the scene's instance list) of the instances in front of this one
    # whose amodal masks overlap it, whether or not a third instance hides that overlap.
    occluded_by: tuple[int, ...] = ()


def make_instance(
    amodal: np.ndarray, visible: np.ndarray, category_id: int, category_name: str,
    occluded_by: tuple[int, ...] = (),
) -> SceneInstance:
    """An instance with boxes and occlusion rate computed from the masks (visible ⊆ amodal)."""
    visible = visible & amodal
    rate = 1.0 - np.count_nonzero(visible) / max(1, np.count_nonzero(amodal))
    amodal_box, visible_box = xyxy_to_xywh(mask_boxes(np.stack([amodal, visible]))).tolist()
    return SceneInstance(
        amodal, visible, tuple(amodal_box), tuple(visible_box), rate, category_id, category_name,
        occluded_by,
    )


def layer_occluders(amodals_back_to_front: Sequence[np.ndarray]) -> list[tuple[int, ...]]:
    """For masks listed back to front (painter's order), the indices of the later (front)
    masks that share at least one pixel with each."""
    return [
        tuple(k for k in range(i + 1, len(amodals_back_to_front))
              if np.logical_and(mask, amodals_back_to_front[k]).any())
        for i, mask in enumerate(amodals_back_to_front)
    ]  # fmt: skip


@dataclass(frozen=True)
class SceneConfig:
    image_size: int = 256
    num_objects: tuple[int, int] = (2, 4)  # inclusive range
    object_size: tuple[float, float] = (0.2, 0.45)  # longer side, as a share of image_size
    occlusion_range: tuple[float, float] = (0.1, 0.7)
    occlude_probability: float = 0.6  # chance that a new object occludes an earlier one
    attempts: int = 30
    # (width, height) of a non-square scene; None: image_size x image_size. Object sizes stay
    # shares of image_size.
    canvas: tuple[int, int] | None = None
    # Texture period, noise grain and line width relative to the training scenes' (a scene
    # painted `texture_scale` times larger than the model's input, sameo_core.data.shapes).
    texture_scale: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the scene."""
        return (self.image_size, self.image_size) if self.canvas is None else self.canvas[::-1]

    def __post_init__(self) -> None:
        lo, hi = self.occlusion_range
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"occlusion_range must satisfy 0 < lo <= hi < 1, got {lo}, {hi}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {self.image_size}")
        if not (math.isfinite(self.texture_scale) and 0 < self.texture_scale <= 64):
            raise ValueError(f"texture_scale must be in (0, 64], got {self.texture_scale}")
        if self.canvas is not None and min(self.canvas) < self.image_size:
            raise ValueError(f"canvas {self.canvas} must be at least image_size "
                             f"({self.image_size}) on each side")  # fmt: skip
        if not 1 <= self.num_objects[0] <= self.num_objects[1]:
            raise ValueError(f"bad num_objects {self.num_objects}")
        if not 0.0 <= self.occlude_probability <= 1.0:
            raise ValueError(f"occlude_probability must be in [0, 1], got "
                             f"{self.occlude_probability}")  # fmt: skip


def _free_spot(
    rng: np.random.Generator, taken: np.ndarray, mask: np.ndarray, attempts: int
) -> Placement | None:
    """A position of `mask` that touches no pixel of `taken` (nor the image border)."""
    h, w = mask.shape
    for _ in range(attempts):
        top = int(rng.integers(1, taken.shape[0] - h)) if taken.shape[0] - h > 1 else -1
        left = int(rng.integers(1, taken.shape[1] - w)) if taken.shape[1] - w > 1 else -1
        if top >= 0 and left >= 0 and not (taken[top : top + h, left : left + w] & mask).any():
            return Placement(top, left, 0.0)
    return None


def _rates_ok(amodals: list[np.ndarray], new: np.ndarray, lo: float, hi: float) -> bool:
    """Would pasting `new` (full-canvas mask) in front keep every earlier rate valid?"""
    covered = np.zeros_like(new)
    for amodal in reversed(amodals):  # from the front: what lies in front of each
        rate = occlusion_rate(amodal, covered | new, 0, 0)
        if rate > 0 and not lo <= rate <= hi:
            return False
        covered |= amodal
    return True


def _try_add(
    rng: np.random.Generator, cfg: SceneConfig, amodals: list[np.ndarray], obj: ObjectPatch
) -> Placement | None:
    taken = np.logical_or.reduce(amodals) if amodals else np.zeros(cfg.shape, bool)
    if amodals and rng.random() < cfg.occlude_probability:
        target = amodals[int(rng.integers(len(amodals)))]
        spot = place_occluder(rng, target, obj.mask, cfg.occlusion_range, cfg.attempts)
    else:
        spot = _free_spot(rng, taken, obj.mask, cfg.attempts)
    if spot is None:
        return None
    new = np.zeros_like(taken)
    h, w = obj.mask.shape
    new[spot.top : spot.top + h, spot.left : spot.left + w] = obj.mask
    return spot if _rates_ok(amodals, new, *cfg.occlusion_range) else None


def generate_scene(
    rng: np.random.Generator, config: SceneConfig | None = None
) -> tuple[np.ndarray, list[SceneInstance]]:
    """(RGB uint8 image, instances back to front) of one procedural amodal scene."""
    cfg = config or SceneConfig()
    size = cfg.image_size
    sides = [max(4, int(f * size)) for f in cfg.object_size]
    image = background(rng, *cfg.shape, scale=cfg.texture_scale)
    amodals: list[np.ndarray] = []
    categories: list[int] = []
    wanted = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    for _ in range(wanted * cfg.attempts):
        if len(amodals) == wanted:
            break
        obj = random_object(rng, *sides, texture_scale=cfg.texture_scale)
        spot = _try_add(rng, cfg, amodals, obj)
        if spot is not None:
            image, full = paste(image, obj, spot.top, spot.left)
            amodals.append(full)
            categories.append(obj.category_id)
    instances = []
    in_front = np.zeros(cfg.shape, bool)
    occluders = layer_occluders(amodals)
    for k in reversed(range(len(amodals))):
        amodal, cat = amodals[k], categories[k]
        name = str(CATEGORIES[cat - 1]["name"])
        instances.append(make_instance(amodal, amodal & ~in_front, cat, name, occluders[k]))
        in_front |= amodal
    return image, instances[::-1]



# Cluttered scenes for the demos: 640x480, 6-8 objects, most of them 30-70 % hidden (an object is
# either unoccluded or hidden by a share in that range). Painted at full size with textures 4x
# coarser than the 128-px training scenes', so that the demo model, which resizes a frame to its
# 128-px input, sees what it was trained on (README, "Occlusion order": the demo).
CLUTTERED = SceneConfig(image_size=480, canvas=(640, 480), num_objects=(6, 8),
                        object_size=(0.25, 0.45), occlusion_range=(0.3, 0.7),
                        occlude_probability=0.9, texture_scale=4.0)  # fmt: skip
