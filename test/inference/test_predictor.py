"""AmodalPredictor: agreement with the model's own outputs, batching, and every bad input."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sameo_core.geometry import DEGENERATE, NON_FINITE, OUTSIDE
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_sameo("test")


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)


BOXES = np.array([[5, 5, 40, 30], [20, 10, 70, 55], [0, 0, 80, 60]], np.float32)


def _reference_masks(model, image, boxes, selection="best_iou"):
    """Straight from the model: all outputs upsampled to full size, then one chosen."""
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        emb = model.image_embeddings(tensor)
        logits, iou = model.predict_masks(emb, torch.from_numpy(boxes)[None], image.shape[:2])
    full = F.interpolate(logits[0], image.shape[:2], mode="bicubic", align_corners=False)
    choice = iou[0].argmax(1) if selection == "best_iou" else torch.zeros(len(boxes), dtype=int)
    rows = torch.arange(len(boxes))
    return (full[rows, choice] >= 0).numpy(), iou[0][rows, choice].numpy()


@pytest.mark.parametrize("postprocess", ["roi", "batched"])
@pytest.mark.parametrize("selection", ["best_iou", "first"])
@pytest.mark.parametrize("chunk_size", [1, 2, 8])
def test_masks_equal_full_resolution_reference(model, image, selection, chunk_size, postprocess):
    predictor = AmodalPredictor(model, config=PredictorConfig(
        chunk_size=chunk_size, mask_selection=selection, postprocess=postprocess))
    predictor.set_image(image)
    results = predictor.predict(BOXES).masks
    expected, expected_iou = _reference_masks(model, image, BOXES, selection)
    assert all(0 < m.sum() < m.size for m in expected), "reference masks must be non-trivial"
    assert [r.index for r in results] == [0, 1, 2]
    for result, mask, iou in zip(results, expected, expected_iou):
        np.testing.assert_array_equal(result.amodal.paste(60, 80), mask)
        assert result.iou == pytest.approx(float(iou), abs=1e-5)
        assert result.score == pytest.approx(result.iou)


def test_result_geometry_and_scores(model, image):
    predictor = AmodalPredictor(model)
    predictor.set_image(image)
    scores = np.array([0.5, 0.9, 0.1])
    for result in predictor.predict(BOXES, scores=scores).masks:
        crop = result.amodal.mask
        assert crop.dtype == bool and crop.any()
        x0, y0 = result.amodal.offset
        np.testing.assert_array_equal(
            result.box, [x0, y0, x0 + crop.shape[1], y0 + crop.shape[0]])
        # the crop is tight: every border row and column holds a mask pixel
        assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
        assert result.score == pytest.approx(scores[result.index] * result.iou)
        assert result.amodal.area == result.amodal.paste(60, 80).sum()


def test_single_mask_selection(model, image):
    predictor = AmodalPredictor(model, config=PredictorConfig(mask_selection="single"))
    predictor.set_image(image)
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        emb = model.image_embeddings(tensor)
        _, iou = model.predict_masks(emb, torch.from_numpy(BOXES)[None], (60, 80), False)
    got = [r.iou for r in predictor.predict(BOXES).masks]
    np.testing.assert_allclose(got, iou[0, :, 0].numpy(), atol=1e-5)


def test_points_change_the_prediction(model, image):
    predictor = AmodalPredictor(model)
    predictor.set_image(image)
    plain = predictor.predict(BOXES[:1]).masks[0]
    clicks, labels = np.array([[[20, 20], [35, 25]]]), np.array([[1, 0]])
    clicked = predictor.predict(BOXES[:1], points=clicks, point_labels=labels).masks[0]
    assert plain.iou != clicked.iou


def test_read_only_image_works_without_warning(model, image):
    """A view of received bytes (what the ROS node passes) gives the same masks, silently."""
    view = np.frombuffer(image.tobytes(), np.uint8).reshape(image.shape)
    assert not view.flags.writeable
    predictor = AmodalPredictor(model)
    predictor.set_image(image)
    expected = [m.amodal.mask for m in predictor.predict(BOXES).masks]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictor.set_image(view)
    for got, want in zip(predictor.predict(BOXES).masks, expected):
        np.testing.assert_array_equal(got.amodal.mask, want)


def test_empty_box_list(model, image):
    predictor = AmodalPredictor(model)
    assert predictor.set_image(image) > 0  # the encoder's time, seconds
    for empty in (np.zeros((0, 4)), []):
        prediction = predictor.predict(empty)
        assert prediction.masks == [] and prediction.rejected == {}
        assert prediction.decoder_s >= 0


def test_invalid_boxes_raise_or_skip(model, image):
    boxes = np.array([[5, 5, 40, 30], [np.nan, 1, 2, 3], [10, 10, 10, 20], [100, 70, 120, 90],
                      [-30, -20, 30, 40]])
    strict = AmodalPredictor(model)
    strict.set_image(image)
    with pytest.raises(ValueError, match="invalid boxes"):
        strict.predict(boxes)
    lenient = AmodalPredictor(model, config=PredictorConfig(invalid_boxes="skip"))
    lenient.set_image(image)
    prediction = lenient.predict(boxes)
    results = prediction.masks
    assert [r.index for r in results] == [0, 4]
    assert prediction.rejected == {1: NON_FINITE, 2: DEGENERATE, 3: OUTSIDE}
    np.testing.assert_array_equal(results[1].prompt_box, [0, 0, 30, 40])


@pytest.mark.parametrize("bad, error", [
    (np.zeros((60, 80, 3), np.float32), TypeError),
    (np.zeros((60, 80), np.uint8), ValueError),
    (np.zeros((60, 80, 4), np.uint8), ValueError),
    (np.zeros((0, 80, 3), np.uint8), ValueError),
    ([[1, 2, 3]], TypeError),
])
def test_bad_images(model, bad, error):
    with pytest.raises(error):
        AmodalPredictor(model).set_image(bad)


def test_bad_arguments(model, image):
    predictor = AmodalPredictor(model)
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(BOXES)
    predictor.set_image(image)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        predictor.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="scores"):
        predictor.predict(BOXES, scores=np.ones(2))
    with pytest.raises(ValueError, match="together"):
        predictor.predict(BOXES, points=np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match="at most"):
        predictor.predict(BOXES, points=np.zeros((3, 5, 2)), point_labels=np.ones((3, 5)))
    with pytest.raises(ValueError, match="point_labels"):
        predictor.predict(BOXES, points=np.zeros((3, 1, 2)), point_labels=np.full((3, 1), 2))
    with pytest.raises(ValueError, match="dtype"):
        AmodalPredictor(predictor.model, dtype=torch.float64)
    with pytest.raises(ValueError, match="chunk_size"):
        PredictorConfig(chunk_size=0)


def test_trained_model_gives_tight_offset_crops():
    """With the shipped demo model, each object's mask is a small crop placed by its offset."""
    from pathlib import Path

    from sameo_core.data.procedural_scenes import SceneConfig, generate_scene

    checkpoint = Path(__file__).resolve().parents[2] / "checkpoints/demo/sameo_shapes_demo.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"demo checkpoint missing: {checkpoint}")
    image, instances = generate_scene(np.random.default_rng(11), SceneConfig(image_size=128))
    predictor = AmodalPredictor(build_sameo(checkpoint=checkpoint))
    predictor.set_image(image)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (i.amodal_box for i in instances)])
    results = predictor.predict(boxes).masks
    assert any(r.amodal.offset != (0, 0) for r in results)
    for result, instance in zip(results, instances):
        assert result.amodal.mask.shape[0] < 128 or result.amodal.mask.shape[1] < 128
        full = result.amodal.paste(128, 128)
        assert full.sum() == result.amodal.area > 0
        iou = (full & instance.amodal_mask).sum() / (full | instance.amodal_mask).sum()
        assert iou > 0.5, f"IoU {iou:.2f} with the amodal ground truth"


@pytest.fixture(scope="module")
def two_heads():
    torch.manual_seed(3)
    return build_sameo("test", modal_head=True)


def _reference_head(model, image, boxes, head):
    """One head straight from the model: full-resolution upsampling, best predicted IoU."""
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        emb = model.image_embeddings(tensor)
        logits, iou = model.predict_masks(emb, torch.from_numpy(boxes)[None], image.shape[:2],
                                          head=head)  # fmt: skip
    full = F.interpolate(logits[0], image.shape[:2], mode="bicubic", align_corners=False)
    rows, choice = torch.arange(len(boxes)), iou[0].argmax(1)
    return (full[rows, choice] >= 0).numpy(), iou[0][rows, choice].numpy()


@pytest.mark.parametrize("postprocess", ["roi", "batched"])
@pytest.mark.parametrize("chunk_size", [1, 2, 8])
def test_visible_and_hidden_masks_follow_the_rule(two_heads, image, chunk_size, postprocess):
    predictor = AmodalPredictor(two_heads, config=PredictorConfig(
        chunk_size=chunk_size, postprocess=postprocess))
    assert predictor.has_modal_head and predictor.heads == ("amodal", "modal")
    predictor.set_image(image)
    prediction = predictor.predict(BOXES)
    assert prediction.has_visible and prediction.heads == ("amodal", "modal")
    amodal, _ = _reference_head(two_heads, image, BOXES, "amodal")
    modal, modal_iou = _reference_head(two_heads, image, BOXES, "modal")
    assert any((m & ~a).any() for m, a in zip(modal, amodal)), "the rule must be exercised"
    for got, a, m, iou in zip(prediction.masks, amodal, modal, modal_iou):
        np.testing.assert_array_equal(got.amodal.paste(60, 80), a)  # unchanged by the modal head
        np.testing.assert_array_equal(got.visible.paste(60, 80), m & a)  # the rule: modal ∩ amodal
        np.testing.assert_array_equal(got.hidden.paste(60, 80), a & ~m)
        assert got.visible_outside_amodal == (m & ~a).sum()
        assert got.visible_iou == pytest.approx(float(iou), abs=1e-5)
        assert got.visible_fraction == pytest.approx((m & a).sum() / a.sum())
        for part in (got.visible, got.hidden):  # tight crops
            assert part.area == part.paste(60, 80).sum()
            assert part.mask.size == 0 or (part.mask[0].any() and part.mask[:, -1].any())


def test_one_batched_decoder_call_per_chunk_and_head(two_heads, image):
    calls = {"amodal": 0, "modal": 0}
    hooks = [decoder.register_forward_hook(lambda *_, head=head: calls.__setitem__(
        head, calls[head] + 1)) for head, decoder in (("amodal", two_heads.mask_decoder),
                                                      ("modal", two_heads.modal_decoder))]
    try:
        predictor = AmodalPredictor(two_heads, config=PredictorConfig(chunk_size=2))
        predictor.set_image(image)
        predictor.predict(BOXES)  # 3 boxes: 2 chunks
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == {"amodal": 2, "modal": 2}


def test_without_a_modal_head_the_predictor_says_so(model, two_heads, image):
    for predictor in (AmodalPredictor(model),
                      AmodalPredictor(two_heads, config=PredictorConfig(modal=False))):
        predictor.set_image(image)
        prediction = predictor.predict(BOXES)
        assert predictor.heads == ("amodal",) and not prediction.has_visible
        assert all(m.visible is None and m.hidden is None and m.visible_fraction is None
                   for m in prediction.masks)
    assert not AmodalPredictor(model).has_modal_head
    # the amodal masks do not depend on whether the modal head runs
    both = AmodalPredictor(two_heads)
    both.set_image(image)
    for a, b in zip(both.predict(BOXES).masks, prediction.masks):
        np.testing.assert_array_equal(a.amodal.mask, b.amodal.mask)
        assert a.amodal.offset == b.amodal.offset
