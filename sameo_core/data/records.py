"""The unified amodal instance record every reader produces, and per-image grouping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sameo_core.data import rle as rle_utils

Box = tuple[float, float, float, float]  # COCO xywh, absolute pixels


@dataclass(frozen=True)
class InstanceRecord:
    """One amodal instance. Masks are compressed COCO RLE; `visible_rle` is a subset of
    `amodal_rle` (readers enforce it) so `occlusion_rate` = 1 - |visible| / |amodal|."""

    source: str  # dataset name, e.g. "cocoa"
    image_id: int | str
    image_path: str
    height: int
    width: int
    annotation_id: int | str
    amodal_rle: rle_utils.Rle
    visible_rle: rle_utils.Rle
    amodal_box: Box
    visible_box: Box
    occlusion_rate: float
    category_id: int | None = None
    category_name: str | None = None
    is_stuff: bool = False
    # True layer order, when the file has one (our synthetic sets: the `occluded_by` key): ids
    # of the annotations of the same image that lie in front of this one where their amodal
    # masks overlap. None: the file does not say.
    occluded_by: tuple[int | str, ...] | None = None

    @property
    def amodal_mask(self) -> np.ndarray:
        return rle_utils.decode(self.amodal_rle)

    @property
    def visible_mask(self) -> np.ndarray:
        return rle_utils.decode(self.visible_rle)

    @property
    def is_occluded(self) -> bool:
        """Modal mask differs from amodal mask (Table 1's POI definition)."""
        return self.occlusion_rate > 0.0


def make_record(
    *,
    amodal_rle: rle_utils.Rle,
    visible_rle: rle_utils.Rle,
    **fields: object,
) -> InstanceRecord:
    """A record whose boxes and occlusion rate are computed from the masks, never from the
    file's own `area`/`bbox` fields: released amodal files disagree with their own masks there
    (e.g. a modal `bbox` next to an amodal `segmentation`, or `area` of the other mask)."""
    amodal_area = rle_utils.area(amodal_rle)
    if amodal_area == 0:
        raise ValueError("empty amodal mask")
    visible_area = rle_utils.area(visible_rle)
    return InstanceRecord(
        amodal_rle=amodal_rle,
        visible_rle=visible_rle,
        amodal_box=rle_utils.bbox(amodal_rle),
        visible_box=rle_utils.bbox(visible_rle),
        occlusion_rate=1.0 - visible_area / amodal_area,
        **fields,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class ImageGroup:
    """All instances of one image (what a training sample is built from)."""

    source: str
    image_id: int | str
    image_path: str
    height: int
    width: int
    instances: tuple[InstanceRecord, ...]


def group_by_image(records: Iterable[InstanceRecord]) -> list[ImageGroup]:
    """Records grouped per (source, image_id), in first-appearance order."""
    groups: dict[tuple[str, int | str], list[InstanceRecord]] = {}
    for rec in records:
        groups.setdefault((rec.source, rec.image_id), []).append(rec)
    return [
        ImageGroup(r[0].source, r[0].image_id, r[0].image_path, r[0].height, r[0].width, tuple(r))
        for r in groups.values()
    ]
