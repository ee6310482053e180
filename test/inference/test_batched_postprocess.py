"""The batched post-processing path: the same masks and values as the ROI path, its batched
boxes, its memory groups, and the host syncs and ops of a whole `predict` (counted on a CPU)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.geometry import mask_boxes
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference.batched_postprocess import group_size, tight_boxes
from sameo_core.inference.host_syncs import count_syncs
from sameo_core.model import build_sameo

DEMO = Path(__file__).resolve().parents[2] / "checkpoints/demo/sameo_shapes_demo.pt"


@pytest.fixture(scope="module")
def demo_model():
    if not DEMO.is_file():
        raise FileNotFoundError(f"demo checkpoint missing: {DEMO}")
    return build_sameo(checkpoint=DEMO)


@pytest.fixture(scope="module")
def scene():
    image, instances = generate_scene(np.random.default_rng(6), SceneConfig(image_size=192))
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (i.amodal_box for i in instances)])
    return image, boxes


def _iou(a, b) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _predict(model, image, boxes, **config):
    predictor = AmodalPredictor(model, config=PredictorConfig(**config))
    predictor.set_image(image)
    return predictor.predict(boxes)


def _assert_same_predictions(roi, batched, height, width):
    assert [m.index for m in roi.masks] == [m.index for m in batched.masks]
    assert roi.heads == batched.heads
    for a, b in zip(roi.masks, batched.masks):
        for part in ("amodal", "visible", "hidden"):
            if getattr(a, part) is None:
                assert getattr(b, part) is None
                continue
            mask_a, mask_b = getattr(a, part), getattr(b, part)
            assert _iou(mask_a.paste(height, width), mask_b.paste(height, width)) >= 0.999
            assert mask_b.mask.dtype == bool and mask_b.area == mask_b.paste(height, width).sum()
        # the values the decoder gives are the same numbers; those from the masks agree to
        # the masks' agreement (at most a pixel of a box)
        assert a.iou == b.iou and a.score == b.score and a.visible_iou == b.visible_iou
        np.testing.assert_array_equal(a.prompt_box, b.prompt_box)
        np.testing.assert_allclose(a.box, b.box, atol=1)
        if a.visible is not None:
            assert a.visible_fraction == pytest.approx(b.visible_fraction, abs=1e-3)
            assert abs(a.visible_outside_amodal - b.visible_outside_amodal) <= 0.001 * max(
                a.amodal.area, 1)


def test_batched_path_equals_roi_path_with_the_demo_model(demo_model, scene):
    image, boxes = scene
    scores = np.linspace(0.3, 0.9, len(boxes))
    roi = _predict(demo_model, image, boxes, postprocess="roi")
    batched = _predict(demo_model, image, boxes, postprocess="batched")
    assert batched.heads == ("amodal", "modal") and len(batched.masks) == len(boxes) >= 4
    assert any(m.hidden.area > 0 for m in batched.masks), "occluded objects must be exercised"
    _assert_same_predictions(roi, batched, *image.shape[:2])
    roi_scored = AmodalPredictor(demo_model, config=PredictorConfig(postprocess="roi"))
    roi_scored.set_image(image)
    batched_scored = AmodalPredictor(demo_model, config=PredictorConfig(postprocess="batched"))
    batched_scored.set_image(image)
    _assert_same_predictions(roi_scored.predict(boxes, scores),
                             batched_scored.predict(boxes, scores), *image.shape[:2])


@pytest.mark.parametrize("chunk_size", [1, 3, 16])
def test_batched_path_equals_roi_path_across_chunks_and_selections(chunk_size):
    torch.manual_seed(3)
    model = build_sameo("test", modal_head=True)
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    boxes = np.array([[5, 5, 40, 30], [20, 10, 70, 55], [0, 0, 80, 60], [60, 40, 79, 59]])
    for selection in ("best_iou", "first", "single"):
        config = dict(chunk_size=chunk_size, mask_selection=selection)
        roi = _predict(model, image, boxes, postprocess="roi", **config)
        batched = _predict(model, image, boxes, postprocess="batched", **config)
        _assert_same_predictions(roi, batched, 60, 80)


def test_batched_path_without_modal_head_and_with_empty_masks(scene):
    torch.manual_seed(0)
    model = build_sameo("test")
    image, boxes = scene
    prediction = _predict(model, image, boxes, postprocess="batched")
    assert prediction.heads == ("amodal",)
    assert all(m.visible is None and m.visible_fraction is None for m in prediction.masks)
    _assert_same_predictions(_predict(model, image, boxes, postprocess="roi"), prediction,
                             *image.shape[:2])  # fmt: skip
    two = build_sameo("test", modal_head=True)
    empty = _predict(two, image, boxes, postprocess="batched", mask_threshold=1e6).masks
    for mask in empty:
        assert mask.amodal.mask.shape == (0, 0) and mask.amodal.offset == (0, 0)
        assert mask.visible.area == mask.hidden.area == 0 and not mask.box.any()
        assert np.isnan(mask.visible_fraction)


def test_memory_groups_give_the_same_masks_with_two_syncs_each(demo_model, scene):
    image, boxes = scene
    height, width = image.shape[:2]
    per_box = (4 * 2 + 4) * height * width
    whole = AmodalPredictor(demo_model, config=PredictorConfig(postprocess="batched"))
    grouped = AmodalPredictor(demo_model, config=PredictorConfig(
        postprocess="batched", postprocess_budget_mib=1))
    assert group_size((height, width), 2, 2**20) == 2**20 // per_box
    groups = -(-len(boxes) // group_size((height, width), 2, 2**20))
    assert groups > 1
    for predictor in (whole, grouped):
        predictor.set_image(image)
    (first, counts_whole) = count_syncs(whole.predict, boxes)
    (second, counts_grouped) = count_syncs(grouped.predict, boxes)
    order = int(demo_model.has_order_head)  # the order head's scores: one more sync per predict
    assert counts_whole.sync_total == 2 + order
    assert counts_grouped.sync_total == 2 * groups + order
    _assert_same_predictions(first, second, height, width)
    assert first.pair_order == second.pair_order


def test_group_size_bounds_the_working_set():
    assert group_size((720, 1280), 2, 2**30) == 97  # README: a group of 97 boxes at 720p
    assert group_size((720, 1280), 1, 2**30) == 145
    assert group_size((4320, 7680), 2, 2**20) == 1  # at least one box


def test_tight_boxes_equal_mask_boxes():
    rng = np.random.default_rng(1)
    masks = np.zeros((6, 30, 40), bool)
    for i in range(1, 6):
        y, x = rng.integers(0, 25), rng.integers(0, 35)
        masks[i, y : y + rng.integers(1, 6), x : x + rng.integers(1, 6)] = True
    masks[5, 0, 39] = masks[5, 29, 0] = True  # corners of the image
    got = tight_boxes(torch.from_numpy(masks))
    np.testing.assert_array_equal(got.numpy(), mask_boxes(masks))
    assert not got[0].any()  # an empty mask has the zero box


def test_host_syncs_and_ops_per_predict_are_bounded(demo_model):
    """Issue 17: with postprocess="batched" and the decoder chunking of CUDA (one decoder call
    for all boxes), at most 4 host syncs per predict at 1, 5, 20 and 64 boxes, and at 20 boxes
    at most 1.5x the ops of 1 box. The counts do not depend on the image size, which only has
    to keep the 64 boxes in one memory group, as at 1280x720 (test_group_size_bounds...)."""
    from sameo_core.tools.inference_benchmark import random_boxes

    height, width = 90, 160
    predictor = AmodalPredictor(demo_model, config=PredictorConfig(
        postprocess="batched", chunk_size=64))
    predictor.set_image(np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8))
    assert group_size((720, 1280), 2, predictor.config.postprocess_budget_mib * 2**20) >= 64
    ops = {}
    for n in (1, 5, 20, 64):
        boxes = random_boxes(n) * ([width / 1280, height / 720] * 2)
        (prediction, counts) = count_syncs(predictor.predict, boxes)
        assert len(prediction.masks) == n
        assert counts.sync_total <= 4, (n, counts.as_dict())
        ops[n] = counts.ops
    assert ops[20] <= 1.5 * ops[1], ops
    roi = AmodalPredictor(demo_model, config=PredictorConfig(postprocess="roi", chunk_size=64))
    roi.set_image(np.zeros((height, width, 3), np.uint8))
    (_, counts) = count_syncs(roi.predict, random_boxes(5) * ([width / 1280, height / 720] * 2))
    assert counts.sync_total > 5 * 4  # the per-box path: several syncs per box and head
