"""Complete-object collection from a plain COCO instances file, and synthesis from it."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sameo_core.data import rle
from sameo_core.data.amodal_lvis import SynthConfig
from sameo_core.data.complete_objects import CompletenessCheck, collect_complete_objects
from sameo_core.data.registry import read_dataset
from training.synthesize import Job, generate

S = 64


def _box_mask(x0, y0, x1, y1):
    m = np.zeros((S, S), bool)
    m[y0:y1, x0:x1] = True
    return m


def _disc(cx, cy, r):
    yy, xx = np.mgrid[0:S, 0:S]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


OBJECTS = {  # per image: annotation id → mask
    1: {1: _box_mask(5, 5, 25, 25), 2: _disc(45, 45, 10)},  # both complete
    2: {3: _box_mask(0, 10, 20, 30), 4: _box_mask(30, 30, 50, 50), 5: _box_mask(40, 40, 60, 60)},
    3: {6: _disc(30, 30, 12), 7: _box_mask(50, 2, 53, 5)},  # 7 is too small (9 px)
}  # image 2: 3 touches the border, 4 and 5 overlap


@pytest.fixture
def coco_source(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    data = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "thing"}]}
    for image_id, objects in OBJECTS.items():
        cv2.imwrite(str(tmp_path / f"{image_id}.png"), rng.integers(0, 255, (S, S, 3), np.uint8))
        data["images"].append({"id": image_id, "file_name": f"{image_id}.png", "height": S,
                               "width": S})  # fmt: skip
        for ann_id, mask in objects.items():
            ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0}
            data["annotations"].append({**ann, "segmentation": rle.encode(mask)})
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_complete_objects_skip_border_overlap_and_tiny(coco_source):
    records = read_dataset("coco_instances", coco_source).records
    assert len(records) == 7
    found = collect_complete_objects(records)
    assert [r.annotation_id for r in found] == [1, 2, 6]
    loose = collect_complete_objects(records, exclude_box_overlap=False, border_margin=0)
    assert [r.annotation_id for r in loose] == [1, 2, 3, 4, 5, 6]


def test_completeness_hook_compares_prediction_with_visible(coco_source):
    records = read_dataset("coco_instances", coco_source).records
    calls = []

    def box_predictor(image, box):  # a "model" that always predicts the whole box
        calls.append(image.shape)
        x, y, w, h = (int(v) for v in box)
        return _box_mask(x, y, x + w, y + h)

    found = collect_complete_objects(records, check=CompletenessCheck(box_predictor, 0.9))
    assert [r.annotation_id for r in found] == [1]  # the discs fill ~79% of their box
    assert calls and all(shape == (S, S, 3) for shape in calls)


def test_synthesis_from_a_coco_instances_file(coco_source, tmp_path):
    job = Job(tmp_path / "out", str(coco_source), 3, 4, synth=SynthConfig((0.1, 0.6)))
    generate(job)
    result = read_dataset("amodal_coco", tmp_path / "out" / "annotations.json")
    assert len(result.records) == 9 and result.report.num_bad == 0
    occluded = [r for r in result.records if r.is_occluded]
    assert len(occluded) == 3 and all(0.1 <= r.occlusion_rate <= 0.6 for r in occluded)
    for rec in result.records:
        assert cv2.imread(rec.image_path).shape == (S, S, 3)
    info = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert info["categories"] == [{"id": 1, "name": "thing"}]


def test_too_few_complete_objects_is_a_clear_error(coco_source, tmp_path):
    data = json.loads(coco_source.read_text())
    data["annotations"] = data["annotations"][:1]
    coco_source.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="at least 2 complete objects"):
        generate(Job(tmp_path / "out", str(coco_source), 1, 0))


def test_records_source_never_pairs_an_object_with_itself(coco_source):
    from sameo_core.data.complete_objects import RecordsSource

    objects = collect_complete_objects(read_dataset("coco_instances", coco_source).records)
    source = RecordsSource(objects)
    rng = np.random.default_rng(0)
    for _ in range(30):
        scene = source.draw_scene(rng)
        patch = source.draw_object(rng, avoid_key=scene.key)
        # the three complete objects have distinct box sizes (20x20, 21x21, 25x25)
        shapes = {i: (int(o.amodal_box[3]), int(o.amodal_box[2])) for i, o in enumerate(objects)}
        assert len(set(shapes.values())) == 3
        assert patch.mask.shape in {s for i, s in shapes.items() if i != scene.key}
