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
    assert len(result.records) == 6 and result.report.num_bad == 0
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


def _random_checkpoint(tmp_path: Path) -> Path:
    import torch

    from sameo_core.model import build_sameo
    from sameo_core.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, build_sameo("test"))
    return path


def test_model_check_callable_is_the_predictor_encoding_each_image_once(tmp_path, monkeypatch):
    import torch

    from sameo_core.inference import AmodalPredictor
    from sameo_core.model import build_sameo
    from training.synthesize import model_completeness_check

    ckpt = _random_checkpoint(tmp_path)
    encoded = []
    original = AmodalPredictor.set_image
    monkeypatch.setattr(AmodalPredictor, "set_image",
                        lambda self, image: encoded.append(1) or original(self, image))
    check = model_completeness_check(str(ckpt), 0.8)
    image = np.random.default_rng(1).integers(0, 255, (S, S, 3), np.uint8)
    boxes = [(5, 5, 20, 20), (30, 30, 20, 20)]
    masks = [check.predict(image, box) for box in boxes]
    assert len(encoded) == 1 and check.min_iou == 0.8
    reference = AmodalPredictor(build_sameo(checkpoint=ckpt), device=torch.device("cpu"))
    reference.set_image(image)
    expected = reference.predict(np.array([[5, 5, 25, 25], [30, 30, 50, 50]], float)).masks
    for mask, out in zip(masks, expected):
        assert mask.shape == (S, S) and np.array_equal(mask, out.amodal.paste(S, S))


def test_completeness_checkpoint_on_the_command_line(coco_source, tmp_path, capsys):
    import subprocess
    import sys

    from training.synthesize import main

    ckpt = _random_checkpoint(tmp_path)
    args = ["--source", str(coco_source), "--num-images", "2", "--seed", "0",
            "--completeness-checkpoint", str(ckpt)]  # fmt: skip
    # IoU >= 0 keeps every candidate: the model ran on all 3 complete objects
    assert main([*args, "--out", str(tmp_path / "all"), "--completeness-min-iou", "0"]) == 0
    assert "kept 3 of 3 complete objects" in capsys.readouterr().out
    meta = json.loads((tmp_path / "all" / "meta.json").read_text())
    assert meta["completeness_checkpoint"] == str(ckpt) and meta["completeness_min_iou"] == 0
    with pytest.raises(ValueError, match="procedural shapes"):
        main(["--source", "shapes", "--num-images", "1", "--seed", "0", "--out",
              str(tmp_path / "s"), "--completeness-checkpoint", str(ckpt)])  # fmt: skip
    # the command, IoU >= 1 with a random model: none kept, a one-line error, exit code 2
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "training.synthesize", *args, "--out", str(tmp_path / "none"),
           "--completeness-min-iou", "1"]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert done.returncode == 2 and "kept 0 of 3" in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: need at least 2 complete")
