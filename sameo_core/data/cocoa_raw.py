"""Reader for raw COCOA (Zhu et al. 2017): one annotation per image holding `regions`.

Two containers of the same region schema are accepted:
- per-image JSON files `{author, url, regions, image_id, id, size}` (the deocclusion demo data),
  given as one file or a directory of them; the image is `<stem>.jpg` next to the JSON, or
  `image_root / basename(url)` when `image_root` is given;
- the release file `COCO_amodal_{train,val,test}2014.json`: COCO-like `images` plus
  `annotations` whose entries each hold `regions`.

A region's `segmentation` is the amodal flat polygon; `visible_mask` (RLE) is present only when
the region is occluded, otherwise visible = amodal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2

from sameo_core.data.coco_readers import coco_images, load_json
from sameo_core.data.read_report import ReadReport, ReadResult
from sameo_core.data.validate import ImageInfo, RawInstance, build_instance

NAME = "cocoa"


def _region(ann_id: str, region: dict[str, Any]) -> RawInstance:
    name = region.get("name")
    return RawInstance(
        annotation_id=ann_id,
        amodal_segm=region["segmentation"],
        visible_segm=region.get("visible_mask"),
        category_name=name.strip() if isinstance(name, str) else None,
        is_stuff=bool(int(region.get("isStuff", 0))),
    )


def _read_regions(
    report: ReadReport, image: ImageInfo | str, ann: dict[str, Any], records: list
) -> None:
    """Append the valid regions of `ann`; `image` is a reason string when it is unusable."""
    for j, region in enumerate(ann.get("regions", [])):
        ann_id = f"{ann.get('id', '?')}:{j}"
        if isinstance(image, str):
            report.add_bad(ann_id, image, f"image_id {ann.get('image_id')!r}")
            continue
        try:
            raw = _region(ann_id, region)
        except (KeyError, TypeError, ValueError) as exc:
            report.add_bad(ann_id, "missing_field", repr(exc))
            continue
        rec = build_instance(report, NAME, image, raw)
        if rec is not None:
            records.append(rec)


def _image_size(ann: dict[str, Any], image_path: Path) -> tuple[int, int] | None:
    """(height, width) from any region RLE, else from the image file itself."""
    for region in ann.get("regions", []):
        for key in ("visible_mask", "invisible_mask"):
            if isinstance(region.get(key), dict) and "size" in region[key]:
                h, w = region[key]["size"]
                return int(h), int(w)
    img = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
    return None if img is None else (img.shape[0], img.shape[1])


def _per_image_info(json_path: Path, ann: dict[str, Any], root: Path | None) -> ImageInfo | str:
    if root is not None and ann.get("url"):
        image_path = root / str(ann["url"]).rsplit("/", 1)[-1]
    else:
        image_path = (root or json_path.parent) / f"{json_path.stem}.jpg"
    size = _image_size(ann, image_path)
    if size is None:
        return "image_size_unknown"  # no region RLE and no readable image
    return ImageInfo(ann.get("image_id", json_path.stem), str(image_path), *size)


def _read_per_image(files: list[Path], image_root: Path | None) -> ReadResult:
    report = ReadReport(NAME)
    records: list = []
    images: list[ImageInfo] = []
    for json_path in files:
        ann = load_json(json_path)
        if not isinstance(ann, dict) or "regions" not in ann:
            raise ValueError(f"{json_path}: not a raw COCOA per-image file (no 'regions')")
        image = _per_image_info(json_path, ann, image_root)
        if isinstance(image, ImageInfo):
            images.append(image)
        _read_regions(report, image, ann, records)
    return ReadResult(records, report, len(files), images)


def _read_release(path: Path, data: dict[str, Any], image_root: Path | None) -> ReadResult:
    images = coco_images(data, image_root or path.parent)
    report = ReadReport(NAME)
    records: list = []
    for ann in data["annotations"]:
        _read_regions(report, images.get(ann.get("image_id"), "unknown_image"), ann, records)
    return ReadResult(records, report, len(images), list(images.values()))


def read_cocoa(path: Path, image_root: Path | None = None) -> ReadResult:
    """Raw COCOA from a per-image JSON, a directory of them, or the release JSON."""
    path = Path(path)
    root = Path(image_root) if image_root else None
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
        if not files:
            raise FileNotFoundError(f"no *.json annotation files in {path}")
        return _read_per_image(files, root)
    data = load_json(path)
    if isinstance(data, dict) and "regions" in data:
        return _read_per_image([path], root)
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return _read_release(path, data, root)
    raise ValueError(f"{path}: neither a raw COCOA per-image file nor a COCOA release file")
