"""Training sources: the section-3.2 filters (and WALT's) act on what training prompts, and what
they removed is printed and logged at the start of a run."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.amodal_data import H, W, coco_file, rect_mask
from helpers.tiny_training import tiny_overrides

from sameo_core.data import rle
from sameo_core.training.batches import target_tensor
from sameo_core.training.recipe import DataSpec, load_config
from sameo_core.training.sources import open_source, source_filters
from sameo_core.training.stream import StepBatches
from training.train import get_args_parser, main

CONFIG = str(Path(__file__).resolve().parents[2] / "config" / "train_cpu_shapes.yaml")
DEMO = Path(__file__).resolve().parents[1] / "data" / "cocoa_demo"
BOX = rect_mask(0, 0, 10, 10)
CASES = {  # annotation id: (amodal, visible, category id (4 = wall), the filter that drops it)
    1: (BOX, rect_mask(0, 0, 10, 5), 3, None),  # 50 % hidden
    2: (rect_mask(12, 4, 22, 14), rect_mask(12, 4, 22, 14), 3, None),  # unoccluded
    3: (BOX, rect_mask(0, 0, 9, 1), 3, "low_visible"),  # 9 % visible
    4: (rect_mask(0, 0, 30, 19), rect_mask(0, 0, 30, 19), 3, "large"),  # 95 % of the image
    5: (BOX, BOX, 4, "stuff"),  # a wall
    6: (BOX, rect_mask(0, 0, 5, 3), 3, "heavy_occlusion"),  # 85 % hidden
}


@pytest.fixture
def dataset(tmp_path) -> Path:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((H, W, 3), 90, np.uint8))
    anns = [{"id": i, "image_id": 1, "category_id": cat, "segmentation": rle.encode(a),
             "visible_mask": rle.encode(v)} for i, (a, v, cat, _) in CASES.items()]  # fmt: skip
    return coco_file(tmp_path, anns)


def _source(path: Path, filters: str):
    cfg = load_config(None, [f"data.sources=[amodal_coco:{path}]", f"data.filters={filters}"])
    return open_source(cfg.data.sources[0], filters=source_filters(cfg.data, 0))


def _ids(source) -> set:
    return {r.annotation_id for g in source.groups for r in g.instances}


@pytest.mark.parametrize("name", ["low_visible", "large", "stuff", "heavy_occlusion"])
def test_each_filter_removes_its_instances_from_training(dataset, name):
    source = _source(dataset, f"[[{name}]]")
    dropped = {i for i, case in CASES.items() if case[3] == name}
    if name == "heavy_occlusion":
        dropped.add(3)  # 91 % hidden is heavy too
    assert _ids(source) == set(CASES) - dropped
    summary = source.summary()
    assert summary["removed"] == {name: len(dropped)} and summary["filters"] == [name]
    # the prompted instances of a batch come only from what the filter kept
    def key(mask):
        return target_tensor(mask[None], 16)[0].numpy().tobytes()

    kept = {key(CASES[i][0]) for i in _ids(source)}
    batch = StepBatches([source], DataSpec(max_instances_per_image=8), 12, 64, 16, seed=0)[0]
    assert len(batch.targets) == 12
    assert {t.numpy().tobytes() for t in batch.targets} <= kept
    if name == "large":  # the only mask of its shape: never a target
        assert key(CASES[4][0]) not in {t.numpy().tobytes() for t in batch.targets}


def test_all_filters_together_and_none(dataset):
    assert _ids(_source(dataset, "[[low_visible, large, stuff, heavy_occlusion]]")) == {1, 2}
    assert _ids(_source(dataset, "[[]]")) == set(CASES)


def test_default_filters_follow_the_format():
    data = DataSpec(sources=(f"cocoa:{DEMO}", "walt:w.json", "kins:k.json", "shapes"))
    assert source_filters(data, 0).names == ("stuff",)
    assert source_filters(data, 1).names == ("heavy_occlusion",)
    assert source_filters(data, 1).max_occlusion == 0.8
    assert source_filters(data, 2).names == ()
    assert source_filters(data, 3) is None
    cocoa = open_source(f"cocoa:{DEMO}", filters=source_filters(data, 0))
    assert cocoa.summary()["instances"] == 45 and cocoa.summary()["removed"] == {"stuff": 3}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["data.sources=[shapes, kins:a.json]", "data.filters=[[stuff]]"], "one list"),
        (["data.sources=[kins:a.json]", "data.filters=[[walls]]"], "unknown"),
        (["data.sources=[shapes]", "data.filters=[[stuff]]"], "stored datasets"),
        (["data.filter_max_occlusion=1.5"], r"\[0, 1\]"),
    ],
)
def test_bad_filter_configs_are_rejected(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config(None, overrides)


def test_sources_without_visible_masks_are_refused(dataset):
    with pytest.raises(ValueError, match="no visible masks"):
        open_source(f"coco_instances:{dataset}")


def test_training_prints_and_logs_what_the_filters_removed(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    overrides = tiny_overrides(out, 2, **{
        "data.sources": f"[amodal_coco:{dataset}]", "data.val_gt": "",
        "data.filters": "[[low_visible, large, stuff, heavy_occlusion]]"})  # fmt: skip
    assert main(get_args_parser().parse_args(["--config", CONFIG, *overrides])) == 0
    printed = capsys.readouterr().out
    assert "removed={'heavy_occlusion': 1, 'large': 1, 'low_visible': 1, 'stuff': 1}" in printed
    first = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert first["split"] == "data" and first["instances"] == 2 and first["images"] == 1
    assert first["removed"] == {"heavy_occlusion": 1, "large": 1, "low_visible": 1, "stuff": 1}
    assert first["filters"] == ["low_visible", "large", "stuff", "heavy_occlusion"]
