"""Raw segmentations → a validated `InstanceRecord`, counting what is dropped or repaired.

Policy (documented once, applied by every reader):
- an amodal or visible segmentation that cannot be decoded, has the wrong size or an empty
  amodal mask drops the annotation (counted in `ReadReport.bad` with the reason);
- a visible mask that sticks out of the amodal mask is clamped, visible := visible ∩ amodal,
  and counted in `ReadReport.repaired["visible_outside_amodal"]` (polygon rasterisation of two
  separately drawn outlines routinely disagrees by a few boundary pixels);
- `visible_segm=None` means "not occluded": visible := amodal (raw COCOA stores
  `visible_mask` only for occluded regions).
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
    )
