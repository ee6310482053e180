"""Readers for the COCO-like amodal files: amodal-COCO, COCOA-cls, D2SA, KINS, KINS2020, WALT.

They share one loop and differ only in where the amodal and visible segmentations live, which a
`CocoSchema` states (the field names of each dataset are in `SCHEMAS` below and in README.md,
"Data").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sameo_core.data.read_report import ReadReport, ReadResult
from sameo_core.data.validate import ImageInfo, RawInstance, build_instance

Getter = Callable[[dict[str, Any]], Any]


def _field(*names: str) -> Getter:
    """The first of `names` present in the annotation (KeyError when none is)."""

    def get(ann: dict[str, Any]) -> Any:
        for name in names:
            if name in ann:
                return ann[name]
        raise KeyError(f"none of {names}")

    return get


def _optional(*names: str) -> Getter:
    """Like `_field` but None (meaning: visible = amodal) when absent."""

    def get(ann: dict[str, Any]) -> Any:
        return next((ann[n] for n in names if n in ann), None)

    return get


def _walt(key: str) -> Getter:
    return lambda ann: ann["segmentation"][0][key]


def _stuff_flag(ann: dict[str, Any]) -> bool:
    region = ann.get("amodal_region")
    flag = region.get("isStuff", 0) if isinstance(region, dict) else ann.get("isStuff", 0)
    return bool(int(flag))


@dataclass(frozen=True)
class CocoSchema:
    name: str
    amodal: Getter
    visible: Getter  # returns None when the file says "not occluded"
    # False: the file has no visible masks at all (visible := amodal is an assumption, not an
    # annotation), so occlusion rates and modal boxes of its records mean nothing.
    has_visible: bool = True


SCHEMAS: dict[str, CocoSchema] = {
    "amodal_coco": CocoSchema("amodal_coco", _field("segmentation"), _field("visible_mask")),
    "cocoa_cls": CocoSchema(
        "cocoa_cls", _field("segmentation"), _field("visible_mask", "inmodal_seg")
    ),
    "d2sa": CocoSchema("d2sa", _field("segmentation"), _field("visible_mask")),
    "kins": CocoSchema("kins", _field("segmentation"), _field("inmodal_seg")),
    "kins2020": CocoSchema("kins2020", _field("a_segm"), _field("i_segm")),
    "walt": CocoSchema("walt", _walt("full"), _walt("visible")),
    # Plain COCO instances: the only mask is both amodal and visible. Used as the source of
    # complete objects for synthetic occlusion, and to evaluate against a GT of amodal masks
    # without visible masks (all instances, amodal prompts only).
    "coco_instances": CocoSchema(
        "coco_instances", _field("segmentation"), _optional(), has_visible=False
    ),
}


def load_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        with path.open() as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc


def _annotations(data: dict[str, Any]) -> list[dict[str, Any]]:
    anns = data["annotations"]
    if isinstance(anns, dict):  # SAMEO "mod_" files: {str(image_id): [annotations]}
        return [a for per_image in anns.values() for a in per_image]
    return list(anns)


def coco_images(data: dict[str, Any], root: Path) -> dict[Any, ImageInfo]:
    """`images` entries by id; the image path is `root / file_name`."""
    return {
        img["id"]: ImageInfo(
            img["id"], str(root / img["file_name"]), int(img["height"]), int(img["width"])
        )
        for img in data["images"]
    }


def _raw_instance(
    schema: CocoSchema, ann: dict[str, Any], categories: dict[Any, str]
) -> RawInstance:
    cat = ann.get("category_id")
    return RawInstance(
        annotation_id=ann.get("id", "?"),
        amodal_segm=schema.amodal(ann),
        visible_segm=schema.visible(ann),
        category_id=cat,
        category_name=categories.get(cat),
        is_stuff=_stuff_flag(ann),
        occluded_by=ann.get("occluded_by"),  # our synthetic sets' layer order (synth_store)
    )


def read_coco_like(schema: CocoSchema, path: Path, image_root: Path | None = None) -> ReadResult:
    """Read one COCO-like amodal file with `schema`; image paths resolve against `image_root`
    (default: the JSON's folder)."""
    data = load_json(Path(path))
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise ValueError(f"{path}: not a COCO-style file (needs 'images' and 'annotations')")
    images = coco_images(data, Path(image_root) if image_root else Path(path).parent)
    categories = {c["id"]: c.get("name") for c in data.get("categories", [])}
    report = ReadReport(schema.name)
    records = []
    for ann in _annotations(data):
        ann_id = ann.get("id", "?")
        if ann.get("iscrowd", 0):
            report.add_bad(ann_id, "iscrowd", "crowd regions are not instances")
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            report.add_bad(ann_id, "unknown_image", f"image_id {ann.get('image_id')!r}")
            continue
        try:
            raw = _raw_instance(schema, ann, categories)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            report.add_bad(ann_id, "missing_field", repr(exc))
            continue
        rec = build_instance(report, schema.name, image, raw)
        if rec is not None:
            records.append(rec)
    return ReadResult(records, report, len(images), list(images.values()))
