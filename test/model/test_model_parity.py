"""Parity with outputs of the official EfficientSAM code for seeded weights (test/data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.seeded_weights import DATA, key_list, seeded_state_dict

from sameo_core.model import build_sameo

REFERENCE = DATA / "efficientsam_vitt_seed1234.npz"


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.is_file():
        raise FileNotFoundError(f"reference outputs missing: {REFERENCE}")
    return dict(np.load(REFERENCE))


@pytest.fixture(scope="module")
def model(reference):
    model = build_sameo("vitt")
    state = seeded_state_dict(key_list("vitt"), int(reference["weights_seed"]))
    model.load_state_dict(state, strict=True)
    return model


@pytest.fixture(scope="module")
def inputs(reference):
    images = torch.from_numpy(reference["image"]).permute(2, 0, 1).float().div(255.0)[None]
    boxes = torch.from_numpy(reference["boxes_xyxy"])[None]
    return images, boxes


@pytest.fixture(scope="module")
def embeddings(model, inputs):
    with torch.inference_mode():
        return model.image_embeddings(inputs[0])


def test_seeded_weights_follow_the_reference_rule():
    state = seeded_state_dict(key_list("vitt"), 1234)
    checksum = sum(float(v.double().sum()) for v in state.values())
    assert checksum == pytest.approx(7467.256931, abs=1e-5)  # printed by make_weights.py


def test_image_embeddings(reference, embeddings):
    assert embeddings.shape == (1, 256, 64, 64)
    np.testing.assert_allclose(
        embeddings[..., ::4, ::4].numpy(), reference["image_embeddings_f32_s4"], atol=1e-4
    )
    np.testing.assert_allclose(
        embeddings.double().mean(dim=(0, 2, 3)).numpy(), reference["image_embeddings_chan_mean"],
        atol=1e-5,
    )
    channel_std = embeddings.double().std(dim=(0, 2, 3), correction=0)  # numpy's ddof=0
    np.testing.assert_allclose(
        channel_std.numpy(), reference["image_embeddings_chan_std"], rtol=1e-4
    )


def test_low_res_multimask(model, reference, embeddings, inputs):
    with torch.inference_mode():
        logits, iou = model.predict_masks(embeddings, inputs[1], (480, 640))
    assert logits.shape == (1, 3, 3, 256, 256) and iou.shape == (1, 3, 3)
    np.testing.assert_allclose(iou.numpy(), reference["iou_predictions"], atol=1e-4)
    np.testing.assert_allclose(
        logits[..., ::4, ::4].numpy(), reference["masks_lowres_f32_s4"], atol=1e-4
    )
    np.testing.assert_allclose(
        logits.numpy(), reference["masks_lowres_f16"].astype(np.float32), atol=2e-3
    )


def test_full_resolution_forward(model, reference, inputs):
    images = inputs[0]
    points = torch.from_numpy(reference["batched_points"])
    labels = torch.from_numpy(reference["batched_point_labels"])
    with torch.inference_mode():
        masks, iou = model(images, points, labels, scale_to_original_image_size=True)
    assert masks.shape == (1, 3, 3, 480, 640)
    np.testing.assert_allclose(iou.numpy(), reference["iou_predictions"], atol=1e-4)
    np.testing.assert_allclose(
        masks.numpy(), reference["masks_fullres_f16"].astype(np.float32), atol=2e-3
    )


def test_output_size_matches_forward(model, embeddings, inputs):
    """predict_masks with output_size upsamples as the official forward does."""
    with torch.inference_mode():
        full, _ = model.predict_masks(embeddings, inputs[1], (480, 640), output_size=(480, 640))
        low, _ = model.predict_masks(embeddings, inputs[1], (480, 640))
    expected = torch.nn.functional.interpolate(low[0], (480, 640), mode="bicubic")
    torch.testing.assert_close(full[0], expected)


def test_single_mask(model, reference, embeddings, inputs):
    with torch.inference_mode():
        logits, iou = model.predict_masks(embeddings, inputs[1], (480, 640), multimask=False)
    assert logits.shape == (1, 3, 1, 256, 256)
    np.testing.assert_allclose(iou.numpy(), reference["single_mask_iou"], atol=1e-4)
    np.testing.assert_allclose(
        logits.numpy(), reference["single_mask_lowres_f16"].astype(np.float32), atol=2e-3
    )
