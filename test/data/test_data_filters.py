"""The section-3.2 quality filters: each removes what it should, can be switched off, counts."""

import dataclasses

import pytest
from helpers.amodal_data import H, W, rect_mask

from sameo_core.data import rle
from sameo_core.data.filters import FilterConfig, apply_filters
from sameo_core.data.records import make_record


def _rec(name, amodal, visible, *, is_stuff=False, category="cup"):
    return make_record(
        amodal_rle=rle.encode(amodal), visible_rle=rle.encode(visible), source="t", image_id=1,
        image_path="a.png", height=H, width=W, annotation_id=name, category_name=category,
        is_stuff=is_stuff,
    )  # fmt: skip


BOX = rect_mask(0, 0, 10, 10)  # 100 px of a 600-px image
RECORDS = [
    _rec("ok", BOX, rect_mask(0, 0, 10, 5)),  # 50% visible
    _rec("edge_ok", BOX, rect_mask(0, 0, 10, 1)),  # exactly 10% visible: kept
    _rec("low_visible", BOX, rect_mask(0, 0, 9, 1)),  # 9% visible
    _rec("large", rect_mask(0, 0, 30, 19), rect_mask(0, 0, 30, 19)),  # 95% of the image
    _rec("stuff_flag", BOX, BOX, is_stuff=True),
    _rec("stuff_name", BOX, BOX, category=" Wall "),
]


def _ids(records):
    return [r.annotation_id for r in records]


def test_default_filters_remove_and_count_each_reason():
    kept, report = apply_filters(RECORDS)
    assert _ids(kept) == ["ok", "edge_ok"]
    assert report.kept == 2
    assert report.removed == {"low_visible": 1, "large": 1, "stuff": 2}


@pytest.mark.parametrize(
    ("change", "now_kept"),
    [
        ({"min_visible_fraction": None}, "low_visible"),
        ({"max_image_fraction": None}, "large"),
        ({"drop_stuff": False}, "stuff_flag"),
        ({"stuff_names": frozenset()}, "stuff_name"),
    ],
)
def test_each_filter_can_be_switched_off(change, now_kept):
    cfg = dataclasses.replace(FilterConfig(), **change)
    kept, report = apply_filters(RECORDS, cfg)
    assert now_kept in _ids(kept)
    assert report.kept == 3 + (change == {"drop_stuff": False})


def test_all_off_keeps_everything_and_reports_no_filter():
    cfg = FilterConfig(min_visible_fraction=None, max_image_fraction=None, drop_stuff=False)
    kept, report = apply_filters(RECORDS, cfg)
    assert len(kept) == len(RECORDS) and report.removed == {}


def test_config_is_frozen_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FilterConfig().drop_stuff = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="min_visible_fraction"):
        FilterConfig(min_visible_fraction=1.5)


def test_heavy_occlusion_filter_is_off_by_default_and_thresholded():
    heavy = _rec("heavy", BOX, rect_mask(0, 0, 5, 3))  # 15 % visible: 85 % hidden
    assert "heavy_occlusion" not in apply_filters([heavy])[1].removed
    kept, report = apply_filters([heavy, RECORDS[0]], FilterConfig(max_occlusion=0.8))
    assert _ids(kept) == ["ok"] and report.removed["heavy_occlusion"] == 1
    kept, _ = apply_filters([heavy], FilterConfig(max_occlusion=0.85))  # not above 0.85
    assert _ids(kept) == ["heavy"]


def test_filter_config_enables_exactly_the_named_filters():
    from sameo_core.data.filters import DEFAULT_MAX_OCCLUSION, FILTER_NAMES, filter_config

    assert filter_config([]).names == ()
    assert filter_config(FILTER_NAMES).names == FILTER_NAMES
    cfg = filter_config(["heavy_occlusion", "stuff"], max_occlusion=0.7)
    assert cfg.names == ("stuff", "heavy_occlusion") and cfg.max_occlusion == 0.7
    assert filter_config(["heavy_occlusion"]).max_occlusion == DEFAULT_MAX_OCCLUSION == 0.8
    assert FilterConfig().names == ("low_visible", "large", "stuff")
    with pytest.raises(ValueError, match="unknown filter"):
        filter_config(["walls"])
