"""The Amodal-LVIS-style generator: checks on a small generated set, determinism, workers,
sharding + merge, resume."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sameo_core.data import rle
from sameo_core.data.amodal_lvis import SynthConfig
from sameo_core.data.registry import read_dataset
from training.synthesize import Job, generate

ROOT = Path(__file__).resolve().parents[2]
RANGE = (0.2, 0.5)
N = 8


def _job(out: Path, seed: int = 11, **synth: object) -> Job:
    return Job(out, "shapes", N, seed, image_size=128,
               synth=SynthConfig(occlusion_range=RANGE, **synth))  # fmt: skip


def _tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "base"
    assert generate(_job(out)) == {"generated": N, "skipped": 0}
    return out


@pytest.fixture(scope="module")
def coco(base):
    return json.loads((base / "annotations.json").read_text())


@pytest.fixture(scope="module")
def with_occluders(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "occluders"
    generate(_job(out, annotate_occluders=True))
    return out


def test_images_and_json_agree(base, coco):
    assert len(coco["images"]) == 2 * N and len(coco["annotations"]) == 2 * N
    assert {a["role"] for a in coco["annotations"]} == {"target"}  # occluders not annotated
    assert len(list((base / "images").glob("*.png"))) == 2 * N
    images = {img["id"]: img for img in coco["images"]}
    for img in coco["images"]:
        pixels = cv2.imread(str(base / img["file_name"]))
        assert pixels.shape == (img["height"], img["width"], 3) == (128, 128, 3)
    for ann in coco["annotations"]:
        img = images[ann["image_id"]]
        assert ann["segmentation"]["size"] == [img["height"], img["width"]]
        assert img["version"] == ann["version"] and img["pair_id"] == ann["pair_id"]


def _masks(ann):
    return rle.decode(ann["segmentation"]), rle.decode(ann["visible_mask"])


def test_occluded_targets_are_strictly_hidden_within_the_range(coco):
    targets = [
        a for a in coco["annotations"] if a["role"] == "target" and a["version"] == "occluded"
    ]
    assert len(targets) == N
    for ann in targets:
        amodal, visible = _masks(ann)
        assert not (visible & ~amodal).any() and visible.sum() < amodal.sum()
        rate = 1 - visible.sum() / amodal.sum()
        assert ann["occlude_rate"] == pytest.approx(rate)
        assert RANGE[0] <= rate <= RANGE[1]
        assert ann["area"] == amodal.sum()
        assert ann["visible_bbox"] == list(rle.bbox(ann["visible_mask"]))


@pytest.mark.parametrize(("annotate_occluders", "poi"), [(False, 50.0), (True, 100 / 3)])
def test_generated_poi_is_balanced(tmp_path, annotate_occluders, poi):
    """Table-1 POI measured on generated output: 50 % (paper's Amodal-LVIS) by default."""
    from sameo_core.data.table1 import dataset_stats

    pairs = 30
    job = Job(tmp_path, "shapes", pairs, 3, image_size=64,
              synth=SynthConfig(annotate_occluders=annotate_occluders))  # fmt: skip
    generate(job)
    records = read_dataset("amodal_coco", tmp_path / "annotations.json").records
    stats = dataset_stats("synth", records)
    assert abs(stats.poi - poi) <= 2.0, stats
    assert stats.instances == (3 if annotate_occluders else 2) * pairs


def test_both_versions_of_every_target_are_present(with_occluders):
    base = with_occluders
    coco = json.loads((base / "annotations.json").read_text())
    by_id = {a["id"]: a for a in coco["annotations"]}
    images = {img["id"]: img for img in coco["images"]}
    assert len(by_id) == 3 * N
    for ann in by_id.values():
        if ann["role"] == "occluder":
            amodal, visible = _masks(ann)
            assert np.array_equal(amodal, visible)
            continue
        other = by_id[ann["paired_annotation_id"]]
        assert other["paired_annotation_id"] == ann["id"] and other["pair_id"] == ann["pair_id"]
        assert {ann["version"], other["version"]} == {"occluded", "original"}
        assert ann["segmentation"] == other["segmentation"]  # same object, same place
        if ann["version"] == "original":
            assert ann["visible_mask"] == ann["segmentation"] and ann["occlude_rate"] == 0
            occluder = next(a for a in by_id.values() if a["role"] == "occluder"
                            and a["pair_id"] == ann["pair_id"])  # fmt: skip
            orig = cv2.imread(str(base / images[ann["image_id"]]["file_name"]))
            occl = cv2.imread(str(base / images[other["image_id"]]["file_name"]))
            changed = (orig != occl).any(axis=2)
            assert not (changed & ~rle.decode(occluder["segmentation"])).any()


def test_reader_and_ids_round_trip(base):
    result = read_dataset("amodal_coco", base / "annotations.json")
    assert len(result.records) == 2 * N and result.report.num_bad == 0
    assert sum(r.is_occluded for r in result.records) == N
    # ids depend on the index only: 3i+1 occluded target, 3i+3 original (3i+2: occluder)
    assert [r.annotation_id for r in result.records[:4]] == [1, 3, 4, 6]


def test_same_seed_is_byte_identical_and_seed_matters(base, tmp_path):
    generate(_job(tmp_path / "again"))
    assert _tree(tmp_path / "again") == _tree(base)
    generate(_job(tmp_path / "other", seed=12))
    assert _tree(tmp_path / "other")["annotations.json"] != _tree(base)["annotations.json"]


def test_two_workers_equal_one(base, tmp_path):
    generate(_job(tmp_path / "w2"), workers=2)
    assert _tree(tmp_path / "w2") == _tree(base)


def test_shards_merge_to_the_unsharded_result(base, tmp_path):
    shards = [tmp_path / f"s{i}" for i in range(3)]
    for i, shard in enumerate(shards):
        generate(_job(shard), shard=i, num_shards=3)
        assert len(list((shard / "parts").glob("*.json"))) == len(range(i, N, 3))
    cmd = [sys.executable, "-m", "training.synthesize", "merge", *map(str, shards)]
    subprocess.run([*cmd, "--out", str(tmp_path / "m")], cwd=ROOT, check=True, capture_output=True)
    assert _tree(tmp_path / "m") == _tree(base)


def test_merge_refuses_missing_shards_and_mixed_settings(tmp_path):
    generate(_job(tmp_path / "a"), shard=0, num_shards=2)
    with pytest.raises(FileNotFoundError, match="incomplete"):
        from sameo_core.data.synth_store import merge

        merge([tmp_path / "a"], tmp_path / "m")
    generate(_job(tmp_path / "b", seed=5), shard=1, num_shards=2)
    with pytest.raises(ValueError, match="different settings"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "m2")
    with pytest.raises(ValueError, match="other settings"):
        generate(_job(tmp_path / "a", seed=5))


def test_resume_after_deleting_outputs(base, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(base, out)
    (out / "images" / "0000002_occluded.png").unlink()
    (out / "parts" / "0000005.json").unlink()
    (out / "annotations.json").unlink()
    assert generate(_job(out)) == {"generated": 2, "skipped": N - 2}
    assert _tree(out) == _tree(base)


def test_cli_generate_and_bad_arguments(tmp_path):
    cmd = [sys.executable, "-m", "training.synthesize", "--source", "shapes", "--num-images", "2",
           "--seed", "1", "--image-size", "64", "--out", str(tmp_path / "cli")]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "generated 2" in done.stdout
    assert len(json.loads((tmp_path / "cli" / "annotations.json").read_text())["images"]) == 4
    bad = subprocess.run([*cmd, "--occlusion-range", "0.5", "0.2"], cwd=ROOT, capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2 and "occlusion range" in bad.stderr


def test_stale_temporary_files_are_cleaned_on_resume(base, tmp_path):
    out = tmp_path / "crashed"
    shutil.copytree(base, out)
    (out / "images" / ".0000001_original.png.123.tmp").write_bytes(b"half a png")
    generate(_job(out))
    assert _tree(out) == _tree(base)


def test_feathering_softens_pixels_but_keeps_binary_identical_masks():
    from sameo_core.data.amodal_lvis import synthesize_pair
    from sameo_core.data.complete_objects import ShapeObjects

    source, hard_cfg = ShapeObjects(96), SynthConfig(occlusion_range=RANGE)
    soft_cfg = SynthConfig(occlusion_range=RANGE, feather=True)
    hard = synthesize_pair(np.random.default_rng(9), source, hard_cfg)
    soft = synthesize_pair(np.random.default_rng(9), source, soft_cfg)
    for a, b in ((hard.target_occluded, soft.target_occluded), (hard.occluder, soft.occluder)):
        assert a.visible_mask.dtype == bool and np.array_equal(a.visible_mask, b.visible_mask)
    occluder = hard.occluder.amodal_mask.astype(np.uint8)
    ring = cv2.dilate(occluder, np.ones((3, 3), np.uint8)).astype(bool) & ~occluder.astype(bool)
    changed = (hard.occluded_image != soft.occluded_image).any(axis=2)
    assert changed.any() and not (changed & ~ring).any()


def test_pairs_carry_their_layer_order(with_occluders, coco):
    annotated = json.loads((with_occluders / "annotations.json").read_text())
    by_image = {}
    for ann in annotated["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    for anns in by_image.values():
        roles = {a["role"]: a for a in anns}
        if "occluder" in roles:  # the occluded version: the occluder is pasted over the target
            assert roles["target"]["occluded_by"] == [roles["occluder"]["id"]]
            assert roles["occluder"]["occluded_by"] == []
        else:
            assert [a["occluded_by"] for a in anns] == [[]]
    records = read_dataset("amodal_coco", with_occluders / "annotations.json").records
    assert sum(bool(r.occluded_by) for r in records) == N
    # Without the occluder's annotation nothing annotated lies in front of anything.
    assert all(a["occluded_by"] == [] for a in coco["annotations"])


def test_scenes_source_writes_multi_object_images_with_layer_order(tmp_path):
    job = Job(tmp_path / "scenes", "scenes", 6, 3, image_size=96)
    assert generate(job) == {"generated": 6, "skipped": 0}
    coco = json.loads((job.out / "annotations.json").read_text())
    assert len(coco["images"]) == 6 and coco["info"]["scene"]["image_size"] == 96
    ids = {a["id"]: a for a in coco["annotations"]}
    assert len(ids) == len(coco["annotations"])
    from sameo_core.data.procedural_scenes import SceneConfig, generate_scene

    for index, img in enumerate(coco["images"]):
        rgb, instances = generate_scene(np.random.default_rng([3, index]), SceneConfig(96))
        anns = [a for a in coco["annotations"] if a["image_id"] == img["id"]]
        assert cv2.imread(str(job.out / img["file_name"]))[..., ::-1].tolist() == rgb.tolist()
        assert [np.array_equal(rle.decode(a["segmentation"]), i.amodal_mask)
                for a, i in zip(anns, instances)] == [True] * len(instances)  # fmt: skip
        for a, inst in zip(anns, instances):
            assert a["occluded_by"] == [anns[k]["id"] for k in inst.occluded_by]
