"""Model structure, official key lists, batching invariance and prompt handling."""

import pytest
import torch
from helpers.seeded_weights import key_list, seeded_state_dict

from sameo_core.model import SAMEO_CONFIGS, SameoConfig, build_sameo, naive_attention


@pytest.mark.parametrize("variant", ["vitt", "vits"])
def test_state_dict_equals_official_key_list(variant):
    model = build_sameo(variant)
    keys = key_list(variant)
    state = model.state_dict()
    assert list(state) == [k for k, _ in keys]
    assert [list(v.shape) for v in state.values()] == [s for _, s in keys]
    assert not model.training


def test_vits_loads_official_keys_strictly_and_runs():
    model = build_sameo("vits")
    model.load_state_dict(seeded_state_dict(key_list("vits"), 5), strict=True)
    images = torch.rand(1, 3, 96, 128)
    with torch.inference_mode():
        emb = model.image_embeddings(images)
        logits, iou = model.predict_masks(emb, torch.tensor([[[10.0, 20, 60, 90]]]), (96, 128))
    assert emb.shape == (1, 256, 64, 64)
    assert logits.shape == (1, 1, 3, 256, 256) and iou.shape == (1, 1, 3)
    assert torch.isfinite(logits).all() and torch.isfinite(iou).all()


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_sameo("test")


def test_batch_invariance(tiny):
    images = torch.rand(2, 3, 50, 70)
    boxes = torch.tensor([[[1.0, 2, 30, 40], [10, 5, 60, 45]], [[0, 0, 70, 50], [5, 5, 20, 20]]])
    with torch.inference_mode():
        emb = tiny.image_embeddings(images)
        logits, iou = tiny.predict_masks(emb, boxes, (50, 70))
        for b in range(2):
            for q in range(2):
                one, one_iou = tiny.predict_masks(emb[b : b + 1], boxes[b : b + 1, q : q + 1],
                                                  (50, 70))
                torch.testing.assert_close(one[0, 0], logits[b, q], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(one_iou[0, 0], iou[b, q], atol=1e-5, rtol=1e-5)


def test_naive_attention_matches_fused(tiny):
    images = torch.rand(1, 3, 64, 64)
    boxes = torch.tensor([[[4.0, 4, 40, 50]]])
    with torch.inference_mode():
        fused = tiny.predict_masks(tiny.image_embeddings(images), boxes, (64, 64))
        with naive_attention():
            naive = tiny.predict_masks(tiny.image_embeddings(images), boxes, (64, 64))
    torch.testing.assert_close(naive[0], fused[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(naive[1], fused[1], atol=1e-5, rtol=1e-4)


def test_box_prompt_equals_corner_points(tiny):
    emb = tiny.image_embeddings(torch.rand(1, 3, 64, 64))
    boxes = torch.tensor([[[4.0, 4, 40, 50]]])
    by_box = tiny.predict_masks(emb, boxes, (64, 64))
    by_points = tiny.decode(emb, boxes.reshape(1, 1, 2, 2), torch.tensor([[[2, 3]]]), (64, 64))
    torch.testing.assert_close(by_box[0], by_points[0])


def test_negative_click_uses_position_only(tiny):
    """Label 0 has no learned embedding: it equals a point with no label added."""
    point = torch.tensor([10.0, 12.0])
    sparse = tiny.encode_prompts(point.reshape(1, 1, 1, 2), torch.tensor([[[0]]]), (64, 64))
    encode = tiny.prompt_encoder.pe_layer.encode
    torch.testing.assert_close(sparse[0, 0, 0], encode((point + 0.5) / 64))
    # Padding points sit at (-1, -1): their encoding is kept and the "invalid" row is added.
    invalid = tiny.prompt_encoder.invalid_points.weight[0]
    padding = encode(torch.tensor([-0.5, -0.5]) / 64) + invalid
    torch.testing.assert_close(sparse[0, 0, 1], padding)


def test_points_beyond_limit_rejected(tiny):
    emb = tiny.image_embeddings(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="at most 6"):
        tiny.decode(emb, torch.zeros(1, 1, 7, 2), torch.ones(1, 1, 7, dtype=torch.long), (64, 64))


def test_decoder_is_differentiable(tiny):
    emb = tiny.image_embeddings(torch.rand(1, 3, 64, 64))
    logits, iou = tiny.predict_masks(emb, torch.tensor([[[4.0, 4, 40, 50]]]), (64, 64))
    (logits.mean() + iou.mean()).backward()
    assert tiny.mask_decoder.iou_token.weight.grad is not None


def test_config_validation_and_registry():
    assert SAMEO_CONFIGS["vitt"].grid_size == 64 and SAMEO_CONFIGS["vitt"].low_res_size == 256
    with pytest.raises(ValueError, match="multiple"):
        SameoConfig(img_size=100, patch_size=16)
    with pytest.raises(ValueError, match="unknown SAMEO variant"):
        build_sameo("vitx")
    with pytest.raises(ValueError, match="unknown SameoConfig fields"):
        SameoConfig.from_dict({"img_size": 64, "bogus": 1})
    config = SAMEO_CONFIGS["test"]
    assert SameoConfig.from_dict(config.to_dict()) == config


def test_bad_image_tensor(tiny):
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        tiny.image_embeddings(torch.rand(1, 4, 64, 64))


def test_modal_head_has_its_own_keys_and_shares_the_prompt_encoding():
    torch.manual_seed(1)
    model = build_sameo("test", modal_head=True)
    plain = build_sameo("test")
    assert model.has_modal_head and not plain.has_modal_head
    modal_keys = [k for k in model.state_dict() if k.startswith("modal_decoder.")]
    assert [k.replace("modal_decoder.", "mask_decoder.", 1) for k in modal_keys] == [
        k for k in plain.state_dict() if k.startswith("mask_decoder.")]
    emb = model.image_embeddings(torch.rand(1, 3, 64, 64))
    boxes = torch.tensor([[[4.0, 4, 40, 50], [10, 12, 60, 30]]])
    with torch.inference_mode():
        sparse = model.encode_prompts(*model.box_prompts(boxes), (64, 64))
        for head, decoder in (("amodal", model.mask_decoder), ("modal", model.modal_decoder)):
            logits, iou = model.predict_masks(emb, boxes, (64, 64), head=head)
            again = model.decode_sparse(emb, sparse, head=head)
            direct = decoder(emb, model.prompt_encoder.get_dense_pe(), sparse, True)
            torch.testing.assert_close(again[0], logits)
            torch.testing.assert_close(direct[0], logits[0])
            torch.testing.assert_close(direct[1], iou[0])
        amodal, _ = model.predict_masks(emb, boxes, (64, 64))
        modal, _ = model.predict_masks(emb, boxes, (64, 64), head="modal")
    assert not torch.allclose(amodal, modal)  # two decoders with their own weights


def test_asking_for_a_missing_head_is_an_error(tiny):
    emb = tiny.image_embeddings(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="no modal head"):
        tiny.predict_masks(emb, torch.tensor([[[4.0, 4, 40, 50]]]), (64, 64), head="modal")
    with pytest.raises(ValueError, match="head must be one of"):
        tiny.decoder("visible")
