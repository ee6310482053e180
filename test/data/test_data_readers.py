"""Every registered format on small hand-written files (tmp_path)."""

import json

import numpy as np
import pytest
from helpers.amodal_data import H, W, coco_file, rect_mask, rect_polygon, uncompressed_rle

from sameo_core.data import rle
from sameo_core.data.registry import READERS, parse_spec, read_dataset

AMODAL = rect_mask(2, 2, 12, 12)  # 100 px
VISIBLE = rect_mask(2, 2, 12, 7)  # 50 px: half hidden


def _compressed(mask):
    return rle.encode(mask)


def _check_half_occluded(result, n=1):
    assert len(result.records) == n, result.report.summary()
    rec = result.records[0]
    assert np.array_equal(rec.amodal_mask, AMODAL)
    assert np.array_equal(rec.visible_mask, VISIBLE)
    assert rec.occlusion_rate == pytest.approx(0.5)
    assert rec.amodal_box == (2.0, 2.0, 10.0, 10.0) and rec.visible_box == (2.0, 2.0, 10.0, 5.0)
    assert (rec.height, rec.width) == (H, W) and rec.image_path.endswith("a.png")
    return rec


def test_registry_names():
    expected = {"cocoa", "cocoa_cls", "d2sa", "kins", "kins2020", "walt", "amodal_coco"}
    assert expected <= set(READERS)


def test_amodal_coco_polygon_compressed_and_uncompressed(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": [rect_polygon(2, 2, 12, 12)],
         "visible_mask": _compressed(VISIBLE)},
        {"id": 2, "image_id": 1, "category_id": 3, "segmentation": uncompressed_rle(AMODAL),
         "visible_mask": uncompressed_rle(VISIBLE)},
        {"id": 3, "image_id": 1, "category_id": 3, "segmentation": _compressed(AMODAL),
         "visible_mask": rect_polygon(2, 2, 12, 7)},
    ]  # fmt: skip
    result = read_dataset("amodal_coco", coco_file(tmp_path, anns))
    _check_half_occluded(result, n=3)
    for rec in result.records:
        assert rec.amodal_rle == result.records[0].amodal_rle
        assert rec.visible_rle == result.records[0].visible_rle
        assert (rec.category_id, rec.category_name, rec.source) == (3, "cup", "amodal_coco")


def test_cocoa_cls_visible_falls_back_to_inmodal_seg(tmp_path):
    ann = {"id": 5, "image_id": 1, "category_id": 3, "segmentation": _compressed(AMODAL),
           "inmodal_seg": _compressed(VISIBLE), "occlude_rate": 0.9}  # fmt: skip
    rec = _check_half_occluded(read_dataset("cocoa_cls", coco_file(tmp_path, [ann])))
    assert rec.occlusion_rate == pytest.approx(0.5)  # from the masks, not the file's field


def test_d2sa_reads_rle_and_the_stuff_flag(tmp_path):
    ann = {"id": 5, "image_id": 1, "category_id": 4, "segmentation": _compressed(AMODAL),
           "visible_mask": _compressed(VISIBLE), "amodal_region": {"isStuff": 1}}  # fmt: skip
    rec = _check_half_occluded(read_dataset("d2sa", coco_file(tmp_path, [ann])))
    assert rec.is_stuff


def test_kins_2019_polygon_amodal_with_rle_or_polygon_visible(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": [rect_polygon(2, 2, 12, 12)],
         "inmodal_seg": _compressed(VISIBLE), "area": 12345},
        {"id": 2, "image_id": 1, "category_id": 3, "segmentation": [rect_polygon(2, 2, 12, 12)],
         "inmodal_seg": [rect_polygon(2, 2, 12, 7)]},
    ]  # fmt: skip
    _check_half_occluded(read_dataset("kins", coco_file(tmp_path, anns)), n=2)


def test_kins_2020_fields(tmp_path):
    ann = {"id": 1, "image_id": 1, "category_id": 3, "a_segm": [rect_polygon(2, 2, 12, 12)],
           "i_segm": [rect_polygon(2, 2, 12, 7)], "a_bbox": [0, 0, 1, 1]}  # fmt: skip
    _check_half_occluded(read_dataset("kins2020", coco_file(tmp_path, [ann])))


def test_walt_full_and_visible(tmp_path):
    segm = [{"full": [rect_polygon(2, 2, 12, 12)], "visible": [rect_polygon(2, 2, 12, 7)]}]
    ann = {"id": 1, "image_id": 1, "category_id": 0, "segmentation": segm}
    _check_half_occluded(read_dataset("walt", coco_file(tmp_path, [ann])))


def test_sameo_mod_files_with_annotations_keyed_by_image(tmp_path):
    ann = {"id": 1, "image_id": 1, "category_id": 3, "segmentation": _compressed(AMODAL),
           "visible_mask": _compressed(VISIBLE)}  # fmt: skip
    path = coco_file(tmp_path, [])
    data = json.loads(path.read_text())
    data["annotations"] = {"1": [ann]}
    path.write_text(json.dumps(data))
    _check_half_occluded(read_dataset("amodal_coco", path))


def test_bad_annotations_are_counted_with_the_first_example(tmp_path):
    good = {"id": 1, "image_id": 1, "segmentation": _compressed(AMODAL),
            "visible_mask": _compressed(VISIBLE)}  # fmt: skip
    anns = [
        {**good, "id": 10, "segmentation": [[1.0, 2.0, 3.0]]},
        {**good, "id": 11, "visible_mask": {"size": [5, 5], "counts": "abc"}},
        {k: v for k, v in good.items() if k != "visible_mask"} | {"id": 12},
        {**good, "id": 13, "image_id": 99},
        {**good, "id": 14, "segmentation": _compressed(np.zeros((H, W), bool))},
        {**good, "id": 15, "iscrowd": 1},
        good,
    ]
    result = read_dataset("amodal_coco", coco_file(tmp_path, anns))
    assert [r.annotation_id for r in result.records] == [1]
    assert dict(result.report.bad) == {
        "amodal_bad_polygon": 1, "visible_size_mismatch": 1, "missing_field": 1,
        "unknown_image": 1, "amodal_empty": 1, "iscrowd": 1,
    }  # fmt: skip
    assert result.report.first_bad.annotation_id == 10
    assert result.report.first_bad.reason == "amodal_bad_polygon"
    assert "6 bad annotation(s)" in result.report.summary()


def test_visible_outside_amodal_is_clamped_and_counted(tmp_path):
    ann = {"id": 7, "image_id": 1, "segmentation": _compressed(AMODAL),
           "visible_mask": _compressed(VISIBLE | rect_mask(20, 0, 25, 4))}  # fmt: skip
    result = read_dataset("amodal_coco", coco_file(tmp_path, [ann]))
    _check_half_occluded(result)
    assert dict(result.report.repaired) == {"visible_outside_amodal": 1}
    assert result.report.first_repaired.annotation_id == 7
    assert "20 px" in result.report.first_repaired.detail


def test_image_root_overrides_the_json_folder(tmp_path):
    ann = {"id": 1, "image_id": 1, "segmentation": _compressed(AMODAL),
           "visible_mask": _compressed(VISIBLE)}  # fmt: skip
    result = read_dataset("amodal_coco", coco_file(tmp_path, [ann]), image_root="/imgs")
    assert result.records[0].image_path == "/imgs/a.png"


def test_clear_errors_for_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_dataset("kins", tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_dataset("kins", tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[]")
    with pytest.raises(ValueError, match="COCO-style"):
        read_dataset("kins", tmp_path / "y.json")
    with pytest.raises(ValueError, match="unknown dataset format"):
        read_dataset("nope", tmp_path / "y.json")
    with pytest.raises(ValueError, match="FORMAT:PATH"):
        parse_spec("kins")


def test_layer_order_is_read_into_the_records(tmp_path):
    base = {"image_id": 1, "segmentation": _compressed(AMODAL),
            "visible_mask": _compressed(VISIBLE)}
    anns = [{**base, "id": 1, "occluded_by": [2]}, {**base, "id": 2, "occluded_by": []},
            {**base, "id": 3}, {**base, "id": 4, "occluded_by": "2"},
            {**base, "id": 5, "occluded_by": [True]}]  # fmt: skip
    result = read_dataset("amodal_coco", coco_file(tmp_path, anns))
    assert [(r.annotation_id, r.occluded_by) for r in result.records] == [
        (1, (2,)), (2, ()), (3, None)]  # None: the file does not say
    assert dict(result.report.bad) == {"bad_occluded_by": 2}
    assert "list of annotation ids" in result.report.first_bad.detail
