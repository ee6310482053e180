"""Pools of complete (unoccluded) objects for synthetic occlusion (paper, section 3.3).

Two sources implement the same small interface (`draw_scene`, `draw_object`, `categories`):
- `ShapeObjects`: procedural textured shapes on textured backgrounds (`--source shapes`);
- `RecordsSource`: complete objects found in a real dataset (`collect_complete_objects`).

An object counts as complete when its visible mask equals its amodal mask, it keeps away from
the image border, and (optionally) no other instance's box overlaps its box: the WALT-style box
test for plain modal datasets. The paper confirms completeness with SAMEO itself; pass any
`(image RGB uint8, box xywh) -> amodal mask` callable as `CompletenessCheck.predict` to do the
same without this package importing a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sameo_core.data.images import read_image_rgb
from sameo_core.data.records import Box, InstanceRecord, group_by_image
from sameo_core.data.shapes import CATEGORIES, ObjectPatch, background, random_object


@dataclass(frozen=True)
class TargetScene:
    image: np.ndarray  # HxWx3 RGB uint8
    mask: np.ndarray  # HxW bool, the complete target object
    category_id: int
    key: int  # identifies the object inside its source (to avoid pairing it with itself)


@dataclass(frozen=True)
class CompletenessCheck:
    predict: Callable[[np.ndarray, Box], np.ndarray]
    min_iou: float = 0.9


# Targets and occluders are drawn again and again from the same few images.
load_rgb = lru_cache(maxsize=8)(read_image_rgb)


def _boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(rec: InstanceRecord, margin: int) -> bool:
    x, y, w, h = rec.amodal_box
    return (
        x >= margin
        and y >= margin
        and x + w <= rec.width - margin
        and (y + h <= rec.height - margin)
    )


def _model_agrees(rec: InstanceRecord, check: CompletenessCheck) -> bool:
    pred = np.asarray(check.predict(load_rgb(rec.image_path), rec.amodal_box)).astype(bool)
    vis = rec.visible_mask
    union = np.count_nonzero(pred | vis)
    return union > 0 and np.count_nonzero(pred & vis) / union >= check.min_iou


def check_completeness(
    objects: Sequence[InstanceRecord], check: CompletenessCheck
) -> list[InstanceRecord]:
    """The objects whose amodal mask, as `check.predict` sees it from their box, matches their
    visible mask (IoU >= `check.min_iou`): the paper's model completeness check, in order."""
    return [rec for rec in objects if _model_agrees(rec, check)]


def collect_complete_objects(
    records: Sequence[InstanceRecord],
    *,
    min_area: int = 64,
    border_margin: int = 1,
    exclude_box_overlap: bool = True,
    check: CompletenessCheck | None = None,
) -> list[InstanceRecord]:
    """The records that look like complete objects, in input order."""
    out = []
    for group in group_by_image(records):
        for rec in group.instances:
            others = (o for o in group.instances if o is not rec)
            if (
                rec.occlusion_rate == 0.0
                and rec.visible_box == rec.amodal_box
                and int(np.count_nonzero(rec.amodal_mask)) >= min_area
                and _inside(rec, border_margin)
                and not (exclude_box_overlap and any(
                    _boxes_overlap(rec.amodal_box, o.amodal_box) for o in others
                ))
            ):  # fmt: skip
                out.append(rec)
    return out if check is None else check_completeness(out, check)


class ShapeObjects:
    """Procedural complete objects; scenes are `image_size` squared."""

    categories = CATEGORIES

    def __init__(self, image_size: int = 256, object_size: tuple[float, float] = (0.25, 0.5)):
        if image_size < 32:
            raise ValueError(f"image_size must be >= 32, got {image_size}")
        self.image_size = image_size
        self.sides = tuple(max(4, int(f * image_size)) for f in object_size)

    def draw_object(self, rng: np.random.Generator, avoid_key: int = -1) -> ObjectPatch:
        return random_object(rng, *self.sides)

    def draw_scene(self, rng: np.random.Generator) -> TargetScene:
        size = self.image_size
        image = background(rng, size, size)
        obj = random_object(rng, *self.sides)
        h, w = obj.mask.shape
        top, left = (int(rng.integers(1, size - s)) for s in (h, w))
        region = image[top : top + h, left : left + w]
        region[obj.mask] = obj.pixels[obj.mask]
        mask = np.zeros((size, size), bool)
        mask[top : top + h, left : left + w] = obj.mask
        return TargetScene(image, mask, obj.category_id, -1)


class RecordsSource:
    """Complete objects taken from dataset records (see `collect_complete_objects`)."""

    def __init__(self, objects: Sequence[InstanceRecord]):
        if len(objects) < 2:
            raise ValueError(f"need at least 2 complete objects to pair, found {len(objects)}")
        self.objects = list(objects)
        ids = sorted({(r.category_id or 1, r.category_name or "object") for r in objects})
        self.categories = [{"id": i, "name": n} for i, n in dict(ids).items()]

    def draw_scene(self, rng: np.random.Generator) -> TargetScene:
        key = int(rng.integers(len(self.objects)))
        rec = self.objects[key]
        return TargetScene(load_rgb(rec.image_path), rec.amodal_mask, rec.category_id or 1, key)

    def draw_object(self, rng: np.random.Generator, avoid_key: int = -1) -> ObjectPatch:
        if avoid_key < 0:
            key = int(rng.integers(len(self.objects)))
        else:  # uniform over the other objects
            key = int(rng.integers(len(self.objects) - 1))
            key += key >= avoid_key
        rec = self.objects[key]
        x, y, w, h = (int(v) for v in rec.amodal_box)
        pixels = load_rgb(rec.image_path)[y : y + h, x : x + w].copy()
        return ObjectPatch(pixels, rec.amodal_mask[y : y + h, x : x + w], rec.category_id or 1)
