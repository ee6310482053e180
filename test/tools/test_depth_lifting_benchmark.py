"""End-to-end run of `python -m sameo_core.tools.depth_lifting_benchmark`, and its mask sources."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sameo_core.data.rgbd_scenes import random_rgbd_scene
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo
from sameo_core.tools.depth_lifting_benchmark import (
    MASK_SOURCES,
    TIMING_SCENES,
    load_model,
    predict,
)

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_reports_accuracy_per_mask_source_and_timing_side_by_side(tmp_path):
    out = tmp_path / "depth.json"
    proc = subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.depth_lifting_benchmark", "--scenes", "3",
         "--timing-frames", "1", "--repeats", "1", "--timing-models", "checkpoint",
         "--threads", "1", "--json", str(out)],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert set(report["accuracy"]) == set(MASK_SOURCES)
    for conditions in report["accuracy"].values():
        assert set(conditions) == {"exact", "noisy"}
        for summary in conditions.values():
            assert summary["objects"] >= 6
            assert summary["order"]["pairs"] == conditions["exact"]["order"]["pairs"]
    # Ground-truth masks on exact planes: the targets hold on every object and pair.
    exact = report["accuracy"]["gt"]["exact"]
    assert exact["outcomes"] == {"3D": exact["objects"]}
    assert exact["centroid"]["within_1%"] == 1.0
    assert exact["extent"]["occluded"]["amodal"]["within_5%"] == 1.0
    assert exact["order"]["right"] == exact["order"]["front_seen_pairs"] >= 1
    published = exact["order"]["published"]  # masks and depth together: never wrong either
    assert published.get("wrong", 0) == 0 and published["right"] >= exact["order"]["right"]
    # The visible part alone underestimates occluded objects.
    occluded = exact["extent"]["occluded"]
    assert occluded["visible"]["median_%"] > occluded["amodal"]["median_%"]
    timing = report["timing_640x480_20_detections"]
    assert set(timing) == {"checkpoint"}
    for row in timing.values():
        assert row["detections_median"] == 20 and row["frames"] == 1
        assert row["model_ms_median"] > 0 and row["lifting_gt_ms_median"] > 0
        assert row["share_gt"] == row["lifting_gt_ms_median"] / row["model_ms_median"]
    assert "| gt | exact |" in proc.stdout and "timing checkpoint: model" in proc.stdout
    assert report["machine"]["threads"] == 1


def test_predicted_mask_sources_put_each_mask_at_its_object():
    torch.manual_seed(0)
    predictor = AmodalPredictor(build_sameo("test", modal_head=True),
                                config=PredictorConfig(invalid_boxes="skip"))
    scene = random_rgbd_scene(np.random.default_rng(3), TIMING_SCENES)
    hidden = [i for i, m in enumerate(scene.visible) if m.area == 0]
    prediction = predict(predictor, scene, hidden_as_amodal=False)
    assert sorted(m.index for m in prediction.masks) == [
        i for i in range(len(scene.planes)) if i not in hidden]
    visible, amodal = MASK_SOURCES["predicted-amodal"].masks(scene, prediction)
    assert all(a is b for a, b in zip(visible, scene.visible, strict=True))
    assert len(amodal) == len(scene.planes)
    by_index = {m.index: m.amodal for m in prediction.masks}
    for i, mask in enumerate(amodal):
        assert mask is by_index[i] if i in by_index else mask.area == 0
    visible, amodal = MASK_SOURCES["predicted"].masks(scene, prediction)
    by_index_visible = {m.index: m.visible for m in prediction.masks}
    for i, mask in enumerate(visible):
        assert mask is by_index_visible[i] if i in by_index_visible else mask.area == 0
    visible, amodal = MASK_SOURCES["predicted-amodal-as-visible"].masks(scene, prediction)
    assert all(a is b or a.area == b.area == 0 for a, b in zip(visible, amodal, strict=True))
    everyone = predict(predictor, scene, hidden_as_amodal=True)
    assert len(everyone.masks) == len(scene.planes) == 20


def test_timing_models_are_the_checkpoint_or_a_variant_with_seeded_weights():
    first, second = load_model("test", None), load_model("test", None)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    for spec, checkpoint, match in (("checkpoint", None, "needs --checkpoint"),
                                    ("vitx", None, "unknown timing model")):
        with pytest.raises(ValueError, match=match):
            load_model(spec, checkpoint)
