"""Raw COCOA: the real demo sample (test/data/cocoa_demo) and the release-file container."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.amodal_data import H, W, rect_mask, rect_polygon

from sameo_core.data import rle
from sameo_core.data.registry import read_dataset

DEMO = Path(__file__).parent / "cocoa_demo"


@pytest.fixture(scope="module")
def demo():
    return read_dataset("cocoa", DEMO)


def test_demo_counts(demo):
    raw = [json.loads(p.read_text()) for p in sorted(DEMO.glob("*.json"))]
    regions = [r for ann in raw for r in ann["regions"]]
    occluded_in_file = sum("visible_mask" in r for r in regions)
    assert (len(regions), occluded_in_file, len(raw)) == (48, 24, 5)
    assert len(demo.records) == 48 and demo.report.num_bad == 0
    assert sum(r.is_occluded for r in demo.records) == 24
    assert len({r.image_id for r in demo.records}) == 5
    assert {r.image_id for r in demo.records} == {ann["image_id"] for ann in raw}


def test_demo_masks_match_their_images(demo):
    sizes = {}
    for rec in demo.records:
        if rec.image_path not in sizes:
            sizes[rec.image_path] = cv2.imread(rec.image_path).shape[:2]
        assert (rec.height, rec.width) == sizes[rec.image_path]
        amodal, visible = rec.amodal_mask, rec.visible_mask
        assert amodal.shape == visible.shape == sizes[rec.image_path]
        assert amodal.any() and not (visible & ~amodal).any()


def test_demo_occlusion_matches_the_file_and_unoccluded_regions_are_whole(demo):
    raw = [json.loads(p.read_text()) for p in sorted(DEMO.glob("*.json"), key=lambda p: p.stem)]
    regions = [r for ann in raw for r in ann["regions"]]
    for rec, region in zip(demo.records, regions):
        assert rec.occlusion_rate == pytest.approx(float(region["occlude_rate"]), abs=0.02)
        if "visible_mask" not in region:
            assert rec.visible_rle == rec.amodal_rle
        else:
            assert rec.visible_rle["counts"] == region["visible_mask"]["counts"]


def _region(visible=None):
    region = {"segmentation": rect_polygon(2, 2, 12, 12), "name": "cup ", "isStuff": 0,
              "occlude_rate": 0, "order": 1, "area": 1}  # fmt: skip
    if visible is not None:
        region["visible_mask"] = rle.encode(visible)
    return region


def test_release_file_with_regions_per_annotation(tmp_path):
    data = {
        "images": [{"id": 9, "file_name": "COCO_9.jpg", "height": H, "width": W}],
        "annotations": [
            {"id": 1, "image_id": 9, "regions": [_region(), _region(rect_mask(2, 2, 12, 7))]},
            {"id": 2, "image_id": 77, "regions": [_region()]},
        ],
    }
    path = tmp_path / "COCO_amodal_val2014.json"
    path.write_text(json.dumps(data))
    result = read_dataset("cocoa", path, image_root="/coco/val2014")
    assert len(result.records) == 2 and result.num_images_listed == 1
    whole, occluded = result.records
    assert whole.visible_rle == whole.amodal_rle and whole.category_name == "cup"
    assert occluded.occlusion_rate == pytest.approx(0.5)
    assert occluded.image_path == "/coco/val2014/COCO_9.jpg"
    assert dict(result.report.bad) == {"unknown_image": 1}
    assert result.report.first_bad.annotation_id == "2:0"


def test_per_image_file_takes_its_size_from_the_image_and_counts_bad_regions(tmp_path):
    cv2.imwrite(str(tmp_path / "4.jpg"), np.zeros((H, W, 3), np.uint8))
    bad = {**_region(), "segmentation": [1.0, 2.0]}
    no_segm = {k: v for k, v in _region().items() if k != "segmentation"}
    ann = {"image_id": 4, "id": 40, "regions": [_region(), bad, no_segm], "size": 3}
    (tmp_path / "4.json").write_text(json.dumps(ann))
    result = read_dataset("cocoa", tmp_path / "4.json")
    assert len(result.records) == 1
    assert (result.records[0].height, result.records[0].width) == (H, W)
    assert dict(result.report.bad) == {"amodal_bad_polygon": 1, "missing_field": 1}
    assert result.report.first_bad.annotation_id == "40:1"


def test_per_image_file_without_any_size_source_is_reported(tmp_path):
    (tmp_path / "5.json").write_text(json.dumps({"image_id": 5, "id": 1, "regions": [_region()]}))
    result = read_dataset("cocoa", tmp_path)
    assert result.records == [] and dict(result.report.bad) == {"image_size_unknown": 1}


def test_cocoa_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.json"):
        read_dataset("cocoa", tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(ValueError, match="neither"):
        read_dataset("cocoa", tmp_path / "x.json")
