"""The predictor's frame path: chunking by device, precision, stage times, several images in one
encoder call, the warm-up frame and the bounds of what one call may ask for."""

from pathlib import Path

import numpy as np
import pytest
import torch

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference import predictor as predictor_module
from sameo_core.inference.stage_times import StageTimes
from sameo_core.model import build_sameo

DEMO = Path(__file__).resolve().parents[2] / "checkpoints/demo/sameo_shapes_demo.pt"
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def two_heads():
    torch.manual_seed(3)
    return build_sameo("test", modal_head=True)


@pytest.fixture
def image():
    return np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)


BOXES = np.array([[5, 5, 40, 30], [20, 10, 70, 55], [0, 0, 80, 60], [60, 40, 79, 59],
                  [10, 30, 50, 58], [30, 0, 60, 20]], np.float32)  # fmt: skip


def _decoder_calls(model, predictor, image, boxes) -> dict[str, int]:
    calls = {"amodal": 0, "modal": 0}
    hooks = [decoder.register_forward_hook(lambda *_, head=head: calls.__setitem__(
        head, calls[head] + 1)) for head, decoder in (("amodal", model.mask_decoder),
                                                      ("modal", model.modal_decoder))]
    try:
        predictor.set_image(image)
        predictor.predict(boxes)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def test_chunk_size_auto_by_device():
    auto = PredictorConfig()
    assert auto.chunk_size == "auto" and PredictorConfig(chunk_size=None).chunk_for(CPU, 20) == 4
    assert auto.chunk_for(CPU, 20) == 4 and auto.chunk_for(CPU, 1) == 4
    assert auto.chunk_for(CUDA, 20) == 20 and auto.chunk_for(CUDA, 1) == 1  # one call
    assert auto.chunk_for(CUDA, 1000) == predictor_module.MAX_CUDA_CHUNK
    assert PredictorConfig(chunk_size=3).chunk_for(CUDA, 20) == 3  # a number wins
    assert PredictorConfig(chunk_size=7).chunk_for(CPU, 20) == 7
    for bad in (0, -1, True, 2.5, "4", "all"):
        with pytest.raises(ValueError, match="chunk_size"):
            PredictorConfig(chunk_size=bad)


def test_auto_chunking_runs_four_boxes_per_decoder_call_on_a_cpu(two_heads, image):
    for postprocess in ("roi", "batched"):
        predictor = AmodalPredictor(two_heads, config=PredictorConfig(postprocess=postprocess))
        calls = _decoder_calls(two_heads, predictor, image, BOXES)  # 6 boxes: 2 chunks
        assert calls == {"amodal": 2, "modal": 2}


def test_postprocess_auto_by_device():
    auto = PredictorConfig()
    assert auto.postprocess == "auto"
    assert auto.postprocess_for(CPU) == predictor_module.CPU_POSTPROCESS == "roi"
    assert auto.postprocess_for(CUDA) == "batched"
    assert PredictorConfig(postprocess="batched").postprocess_for(CPU) == "batched"
    assert PredictorConfig(postprocess="roi").postprocess_for(CUDA) == "roi"
    with pytest.raises(ValueError, match="postprocess"):
        PredictorConfig(postprocess="fast")
    with pytest.raises(ValueError, match="postprocess_budget_mib"):
        PredictorConfig(postprocess_budget_mib=0)
    with pytest.raises(ValueError, match="mask_threshold"):
        PredictorConfig(mask_threshold=float("nan"))


def test_bfloat16_weights_are_cast_once_and_positions_stay_float32(two_heads, image):
    predictor = AmodalPredictor(two_heads, dtype=torch.bfloat16)
    model = predictor.model
    assert model is not two_heads and next(two_heads.parameters()).dtype == torch.float32
    assert model.image_encoder.patch_embed.proj.weight.dtype == torch.bfloat16
    assert model.modal_decoder.iou_token.weight.dtype == torch.bfloat16
    pe = model.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
    assert pe.dtype == torch.float32
    torch.testing.assert_close(pe, two_heads.prompt_encoder.pe_layer
                               .positional_encoding_gaussian_matrix, rtol=0, atol=0)
    assert model.pixel_mean.dtype == torch.float32
    predictor.set_image(image)
    for mask in predictor.predict(BOXES).masks:
        assert np.isfinite(mask.iou) and isinstance(mask.iou, float)
    # no autocast per call: the decoder sees bfloat16 inputs made once
    seen = []
    hook = model.mask_decoder.register_forward_pre_hook(
        lambda _, args: seen.append((args[0].dtype, args[1].dtype, args[2].dtype)))
    try:
        predictor.predict(BOXES[:2])
    finally:
        hook.remove()
    assert seen == [(torch.bfloat16,) * 3]


def test_bfloat16_masks_of_the_demo_model_match_float32():
    """Issue 17: bf16 masks of the demo model agree with fp32 ones, mean IoU ≥ 0.97."""
    if not DEMO.is_file():
        raise FileNotFoundError(f"demo checkpoint missing: {DEMO}")
    model = build_sameo(checkpoint=DEMO)
    fp32, bf16 = AmodalPredictor(model), AmodalPredictor(model, dtype=torch.bfloat16)
    ious = []
    for seed in (6, 8):
        image, instances = generate_scene(np.random.default_rng(seed),
                                          SceneConfig(image_size=192))  # fmt: skip
        boxes = np.array([[x, y, x + w, y + h]
                          for x, y, w, h in (i.amodal_box for i in instances)])  # fmt: skip
        fp32.set_image(image)
        bf16.set_image(image)
        for a, b in zip(fp32.predict(boxes).masks, bf16.predict(boxes).masks):
            for part in ("amodal", "visible"):
                full_a = getattr(a, part).paste(192, 192)
                full_b = getattr(b, part).paste(192, 192)
                ious.append((full_a & full_b).sum() / max((full_a | full_b).sum(), 1))
    assert len(ious) >= 12 and np.mean(ious) >= 0.97, ious


@pytest.mark.parametrize("postprocess", ["roi", "batched"])
def test_stage_times_partition_set_image_and_predict(two_heads, image, postprocess):
    predictor = AmodalPredictor(two_heads, config=PredictorConfig(postprocess=postprocess))
    encoder_s = predictor.set_image(image)
    prediction = predictor.predict(BOXES)
    times = prediction.timings
    assert isinstance(times, StageTimes) and set(times.decoder_s) == {"amodal", "modal"}
    assert times.encoder_s == encoder_s > 0
    assert min(times.prompt_s, *times.decoder_s.values(), times.postprocess_s) > 0
    # on a CPU the stages split the wall time of the two calls exactly
    assert times.total_s == pytest.approx(encoder_s + prediction.decoder_s, abs=1e-9)
    assert (times.copy_s > 0) == (postprocess == "batched")
    assert set(times.as_ms()) == {"encoder", "prompt", "decoder_amodal", "decoder_modal",
                                  "postprocess", "copy"}  # fmt: skip
    again = predictor.predict(BOXES[:2]).timings  # same image: the encoder is not counted again
    assert again.encoder_s == 0 and again.total_s > 0
    assert predictor.predict(np.zeros((0, 4))).timings.postprocess_s == 0


def test_several_images_in_one_encoder_call(two_heads):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in
              ((60, 80, 3), (48, 64, 3), (90, 70, 3))]  # fmt: skip
    batched = AmodalPredictor(two_heads)
    batched.set_images(images)
    assert batched.image_sizes == [(60, 80), (48, 64), (90, 70)]
    assert batched.image_size == (90, 70)  # the last one
    single = AmodalPredictor(two_heads)
    boxes = np.array([[2, 3, 40, 30], [10, 10, 45, 44]])
    for k, image in enumerate(images):
        single.set_image(image)
        with torch.inference_mode():
            one = single._embeddings
        torch.testing.assert_close(batched._embeddings[k : k + 1], one, atol=1e-4, rtol=1e-4)
        expected, got = single.predict(boxes), batched.predict(boxes, image=k)
        for a, b in zip(expected.masks, got.masks):
            full_a, full_b = a.amodal.paste(*image.shape[:2]), b.amodal.paste(*image.shape[:2])
            assert (full_a & full_b).sum() >= 0.999 * (full_a | full_b).sum()
            assert b.iou == pytest.approx(a.iou, abs=1e-4)
    default = batched.predict(boxes)  # default: the last image
    assert [m.iou for m in default.masks] == [m.iou for m in batched.predict(boxes, image=2).masks]
    assert default.timings.encoder_s == 0  # reported by the first predict after set_images
    for bad in (3, -4, 1.0, True):
        with pytest.raises(ValueError, match="image must be an index"):
            batched.predict(boxes, image=bad)
    with pytest.raises(ValueError, match="1 to"):
        batched.set_images([])
    with pytest.raises(TypeError, match="list"):
        batched.set_images(images[0])
    with pytest.raises(TypeError, match="uint8"):
        batched.set_images([images[0], images[1].astype(np.float32)])
    assert batched.image_size == (90, 70)  # refused input changes nothing


def test_an_image_tensor_gives_the_masks_of_the_same_array(two_heads, image):
    """A decoded image already in torch (e.g. a JPEG decoded on the GPU) is taken as it is,
    strided views included."""
    predictor = AmodalPredictor(two_heads)
    predictor.set_image(image)
    expected = predictor.predict(BOXES)
    channels_first = torch.from_numpy(image.copy()).permute(2, 0, 1).contiguous()
    predictor.set_image(channels_first.permute(1, 2, 0))  # a non-contiguous [H, W, 3] view
    got = predictor.predict(BOXES)
    assert predictor.image_size == image.shape[:2]
    for a, b in zip(expected.masks, got.masks, strict=True):
        assert np.array_equal(a.amodal.mask, b.amodal.mask) and a.amodal.offset == b.amodal.offset
        assert b.iou == a.iou
    with pytest.raises(TypeError, match="uint8"):
        predictor.set_image(torch.zeros(60, 80, 3))
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        predictor.set_image(torch.zeros(3, 60, 80, dtype=torch.uint8))
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        predictor.set_image(image.tolist())


def test_warmup_runs_one_frame_and_forgets_it(two_heads):
    for postprocess in ("roi", "batched"):
        predictor = AmodalPredictor(two_heads, config=PredictorConfig(postprocess=postprocess))
        assert predictor.warmup((48, 64), boxes=5) > 0
        assert predictor.image_size is None
        with pytest.raises(RuntimeError, match="set_image"):
            predictor.predict(BOXES)
    with pytest.raises(ValueError, match="warm-up image size"):
        predictor.warmup((0, 64))
    with pytest.raises(ValueError, match="warm-up boxes"):
        predictor.warmup((48, 64), boxes=0)


def test_bounds_of_one_call(two_heads, image, monkeypatch):
    predictor = AmodalPredictor(two_heads)
    monkeypatch.setattr(predictor_module, "MAX_IMAGE_PIXELS", 60 * 80 - 1)
    with pytest.raises(ValueError, match="pixels allowed"):
        predictor.set_image(image)
    monkeypatch.setattr(predictor_module, "MAX_IMAGE_PIXELS", 60 * 80)
    predictor.set_image(image)
    monkeypatch.setattr(predictor_module, "MAX_BOXES", 5)
    with pytest.raises(ValueError, match="at most 5 boxes"):
        predictor.predict(BOXES)
    assert len(predictor.predict(BOXES[:5]).masks) == 5
    monkeypatch.setattr(predictor_module, "MAX_IMAGES", 2)
    with pytest.raises(ValueError, match="1 to 2 images"):
        predictor.set_images([image] * 3)
