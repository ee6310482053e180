"""Checkpoint formats (official, SAMEO training, ours, plain, safetensors) and every error."""

import collections
import pickle

import pytest
import torch
from helpers.seeded_weights import key_list, seeded_state_dict
from safetensors.torch import save_file

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import (
    CheckpointError,
    atomic_save,
    load_weights,
    read_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def official_vitt():
    return seeded_state_dict(key_list("vitt"), 7)


def _assert_weights_equal(model, state):
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


def test_official_file_loads_strictly_and_infers_variant(tmp_path, official_vitt):
    path = tmp_path / "efficient_sam_vitt.pt"
    torch.save({"model": official_vitt}, path)
    model = build_sameo(checkpoint=path)
    assert model.config.encoder_dim == 192
    _assert_weights_equal(model, official_vitt)


def test_plain_and_safetensors_state_dicts(tmp_path, official_vitt):
    torch.save(official_vitt, tmp_path / "plain.pt")
    save_file(official_vitt, str(tmp_path / "w.safetensors"))
    for name in ("plain.pt", "w.safetensors"):
        _assert_weights_equal(build_sameo("vitt", tmp_path / name), official_vitt)


def _official_decoder_as_modal(state):
    return {"modal_decoder." + k[len("mask_decoder."):]: v for k, v in state.items()
            if k.startswith("mask_decoder.")}


def test_sameo_training_format_full_and_decoder_only(tmp_path, official_vitt):
    base = tmp_path / "base.pt"
    torch.save({"model": official_vitt}, base)
    tuned = seeded_state_dict(key_list("vitt"), 8)
    decoder = {k[len("mask_decoder."):]: v for k, v in tuned.items()
               if k.startswith("mask_decoder.")}
    torch.save({"decoder": decoder}, tmp_path / "decoder_only.pt")
    model = build_sameo("vitt", tmp_path / "decoder_only.pt", base_checkpoint=base)
    expected = {k: tuned[k] if k.startswith("mask_decoder.") else v
                for k, v in official_vitt.items()}
    # The official decoder that the SAMEO decoder replaces stays as the modal head.
    assert model.has_modal_head
    _assert_weights_equal(model, {**expected, **_official_decoder_as_modal(official_vitt)})
    with pytest.raises(CheckpointError, match="decoder-only file: pass a base checkpoint"):
        build_sameo("vitt", tmp_path / "decoder_only.pt")
    without = build_sameo("vitt", tmp_path / "decoder_only.pt", base_checkpoint=base,
                          modal_head=False)
    assert not without.has_modal_head
    _assert_weights_equal(without, expected)

    encoder = {k[len("image_encoder."):]: v for k, v in tuned.items()
               if k.startswith("image_encoder.")}
    torch.save({"decoder": decoder, "encoder": encoder}, tmp_path / "full.pt")
    model = build_sameo("vitt", tmp_path / "full.pt", base_checkpoint=base)
    expected.update({k: v for k, v in tuned.items() if k.startswith("image_encoder.")})
    # A fine-tuned encoder makes other embeddings: the official decoder is no modal head then.
    assert not model.has_modal_head
    _assert_weights_equal(model, expected)
    with pytest.raises(CheckpointError, match="no modal head: the checkpoint replaces the base"):
        build_sameo("vitt", tmp_path / "full.pt", base_checkpoint=base, modal_head=True)


def test_our_checkpoint_round_trip_with_metadata(tmp_path):
    torch.manual_seed(3)
    model = build_sameo("test")
    path = tmp_path / "ckpt" / "ours.pt"
    save_checkpoint(path, model, step=42, variant="test", extra={"note": "x"})
    assert [p.name for p in path.parent.iterdir()] == ["ours.pt"]  # no temporary left
    state, meta = read_checkpoint(path)
    assert meta["step"] == 42 and meta["variant"] == "test"
    loaded = build_sameo(checkpoint=path)  # configuration read from the file
    assert loaded.config == model.config
    _assert_weights_equal(loaded, model.state_dict())


def test_wrong_variant_is_named(tmp_path):
    torch.save({"model": seeded_state_dict(key_list("vits"), 1)}, tmp_path / "vits.pt")
    with pytest.raises(CheckpointError, match="wrong variant: checkpoint is vits, model is vitt"):
        build_sameo("vitt", tmp_path / "vits.pt")


def test_missing_unexpected_and_misshaped_keys(tmp_path, official_vitt):
    state = dict(official_vitt)
    del state["mask_decoder.iou_token.weight"]
    state["extra.weight"] = torch.zeros(1)
    state["mask_decoder.mask_tokens.weight"] = torch.zeros(5, 256)
    torch.save({"model": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as info:
        build_sameo("vitt", tmp_path / "bad.pt")
    message = str(info.value)
    assert "mask_decoder.iou_token.weight" in message
    assert "extra.weight" in message
    assert "mask_decoder.mask_tokens.weight: checkpoint (5, 256) vs model (4, 256)" in message


def test_official_file_alone_has_no_modal_head(tmp_path, official_vitt):
    torch.save({"model": official_vitt}, tmp_path / "official.pt")
    model = build_sameo("vitt", tmp_path / "official.pt")
    assert not model.has_modal_head and list(model.state_dict()) == list(official_vitt)
    with pytest.raises(CheckpointError, match="no modal head: the weights hold no"):
        build_sameo("vitt", tmp_path / "official.pt", modal_head=True)


def test_our_checkpoint_with_both_heads_round_trip(tmp_path):
    torch.manual_seed(4)
    model = build_sameo("test", modal_head=True)
    path = tmp_path / "both.pt"
    save_checkpoint(path, model, step=3)
    state, meta = read_checkpoint(path)
    assert meta["heads"] == ["amodal", "modal"] and meta["format_version"] == 2
    loaded = build_sameo(checkpoint=path)
    assert loaded.has_modal_head
    _assert_weights_equal(loaded, model.state_dict())
    amodal_only = build_sameo(checkpoint=path, modal_head=False)
    assert not amodal_only.has_modal_head
    _assert_weights_equal(amodal_only, model.state_dict())  # every key it has is equal
    # and a file without a modal head says so in its metadata
    save_checkpoint(tmp_path / "one.pt", amodal_only)
    assert read_checkpoint(tmp_path / "one.pt")[1]["heads"] == ["amodal"]


def test_training_format_with_a_modal_decoder_part(tmp_path, official_vitt):
    tuned = seeded_state_dict(key_list("vitt"), 9)
    part = {k[len("mask_decoder."):]: v for k, v in tuned.items() if k.startswith("mask_decoder.")}
    torch.save({"decoder": part, "modal_decoder": part}, tmp_path / "heads.pt")
    torch.save({"model": official_vitt}, tmp_path / "base.pt")
    model = build_sameo("vitt", tmp_path / "heads.pt", base_checkpoint=tmp_path / "base.pt")
    assert model.has_modal_head
    for key, value in part.items():
        torch.testing.assert_close(model.state_dict()["modal_decoder." + key], value)


def test_full_checkpoint_over_its_own_base_keeps_the_base_decoder(tmp_path):
    """A SAMEO file that stores every weight, encoders unchanged, over the base it came from."""
    torch.manual_seed(5)
    base_model = build_sameo("test")
    save_checkpoint(tmp_path / "base.pt", base_model)
    tuned = build_sameo("test")
    tuned.load_state_dict(base_model.state_dict())
    with torch.no_grad():
        tuned.mask_decoder.iou_token.weight.add_(1.0)
    save_checkpoint(tmp_path / "tuned.pt", tuned)
    model = build_sameo(checkpoint=tmp_path / "tuned.pt", base_checkpoint=tmp_path / "base.pt")
    assert model.has_modal_head
    torch.testing.assert_close(model.modal_decoder.iou_token.weight,
                               base_model.mask_decoder.iou_token.weight)
    torch.testing.assert_close(model.mask_decoder.iou_token.weight,
                               tuned.mask_decoder.iou_token.weight)


def test_modal_head_errors_name_the_problem(tmp_path):
    torch.manual_seed(6)
    model = build_sameo("test", modal_head=True)
    state = model.state_dict()
    del state["modal_decoder.iou_token.weight"]
    torch.save({"model": state}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=r"missing keys \(1\).*modal_decoder.iou_token"):
        build_sameo("test", tmp_path / "partial.pt")
    # metadata listing a modal head that the weights do not have
    meta = {"config": model.config.to_dict(), "heads": ["amodal", "modal"]}
    plain = {k: v for k, v in state.items() if not k.startswith("modal_decoder.")}
    torch.save({"model": plain, "sameo": meta}, tmp_path / "liar.pt")
    with pytest.raises(CheckpointError, match="lists heads .* but it has no modal_decoder"):
        build_sameo(checkpoint=tmp_path / "liar.pt")
    torch.save({"model": plain, "sameo": dict(meta, heads="modal")}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="'heads' must list"):
        build_sameo(checkpoint=tmp_path / "odd.pt")
    # a file with a modal head into a network built without one
    save_checkpoint(tmp_path / "both.pt", model)
    with pytest.raises(CheckpointError, match="a modal head the network was built without"):
        load_weights(build_sameo("test"), tmp_path / "both.pt")


class Arbitrary:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("writer, match", [
    (lambda p: p.write_bytes(b""), "truncated or not a checkpoint"),
    (lambda p: p.write_text("hello, not a checkpoint"), "truncated or not a checkpoint"),
    (lambda p: p.write_bytes(pickle.dumps(Arbitrary(), protocol=2)), "refused to load"),
    (lambda p: torch.save([torch.zeros(1)], p), "expected a dict"),
    (lambda p: torch.save({"model": {"a": 1}}, p), "no state dict"),
    (lambda p: torch.save({"epoch": 3}, p), "no state dict"),
    (lambda p: torch.save(collections.OrderedDict(), p), "no state dict"),
])
def test_unusable_files(tmp_path, writer, match):
    path = tmp_path / "file.pt"
    writer(path)
    with pytest.raises(CheckpointError, match=match):
        load_weights(build_sameo("test"), path)


def test_truncated_real_checkpoint(tmp_path):
    path = tmp_path / "t.pt"
    save_checkpoint(path, build_sameo("test"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        build_sameo(checkpoint=path)


def test_corrupt_safetensors_and_missing_file(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        build_sameo("test", tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError):
        build_sameo("test", tmp_path / "absent.pt")


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "state.pt"
    atomic_save({"a": torch.ones(1)}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_save({"a": Unsaveable()}, path)
    assert torch.load(path, weights_only=True)["a"].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]
