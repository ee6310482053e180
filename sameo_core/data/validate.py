"""Raw segmentations → a validated `InstanceRecord`, counting what is dropped or repaired.

Policy (documented once, applied by every reader):
- an amodal or visible segmentation that cannot be decoded, has the wrong size or an empty
  amodal mask drops the annotation (counted in `ReadReport.bad` with the reason);
- a visible mask that sticks out of the amodal mask is clamped, visible := visible ∩ amodal,
  and counted in `ReadReport.repaired["visible_outside_amodal"]` (polygon rasterisation of two
  separately drawn outlines routinely disagrees by a few boundary pixels);
- `visible_segm=None` means "not occluded": visible := amodal (raw COCOA stores
  `visible_mask` only for occluded regions);
- a layer order (`occluded_by`) that is not a list of annotation ids drops the annotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sameo_core.data import rle as rle_utils
from sameo_core.data.read_report import ReadReport
from sameo_core.data.records import InstanceRecord, make_record


@dataclass(frozen=True)
class ImageInfo:
    image_id: int | str
    path: str
    height: int
    width: int


@dataclass(frozen=True)
class RawInstance:
    annotation_id: int | str
    amodal_segm: Any
    visible_segm: Any | None  # None: same as amodal
    category_id: int | None = None
    category_name: str | None = None
    is_stuff: bool = False
    occluded_by: Any | None = None  # the file's layer order, if it has one


def _layer_order(raw: Any) -> tuple[int | str, ...] | None:
    """`occluded_by` as a tuple of annotation ids; ValueError when it is not a list of them."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(
        isinstance(i, (int, str)) and not isinstance(i, bool) for i in raw
    ):
        raise ValueError(f"occluded_by must be a list of annotation ids, got {raw!r:.60}")
    return tuple(raw)


def _mask(report: ReadReport, ann_id: int | str, segm: Any, image: ImageInfo, what: str):
    try:
        return rle_utils.to_rle(segm, image.height, image.width)
    except rle_utils.MaskFormatError as exc:
        report.add_bad(ann_id, f"{what}_{exc.reason}", exc.detail)
        return None


def build_instance(
    report: ReadReport, source: str, image: ImageInfo, raw: RawInstance
) -> InstanceRecord | None:
    """The validated record, or None after counting the reason in `report`."""
    ann_id = raw.annotation_id
    try:
        occluded_by = _layer_order(raw.occluded_by)
    except ValueError as exc:
        report.add_bad(ann_id, "bad_occluded_by", str(exc))
        return None
    amodal = _mask(report, ann_id, raw.amodal_segm, image, "amodal")
    if amodal is None:
        return None
    if rle_utils.area(amodal) == 0:
        report.add_bad(ann_id, "amodal_empty", "amodal mask has no pixel")
        return None
    if raw.visible_segm is None:
        visible = amodal
    else:
        visible = _mask(report, ann_id, raw.visible_segm, image, "visible")
        if visible is None:
            return None
        clamped = rle_utils.intersect(visible, amodal)
        outside = rle_utils.area(visible) - rle_utils.area(clamped)
        if outside > 0:
            report.add_repaired(ann_id, "visible_outside_amodal", f"{outside} px clamped")
            visible = clamped
    return make_record(
        amodal_rle=amodal,
        visible_rle=visible,
        source=source,
        image_id=image.image_id,
        image_path=image.path,
        height=image.height,
        width=image.width,
        annotation_id=ann_id,
        category_id=raw.category_id,
        category_name=raw.category_name,
        is_stuff=raw.is_stuff,
        occluded_by=occluded_by,
    )
