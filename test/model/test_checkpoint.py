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
    _assert_weights_equal(model, expected)
    with pytest.raises(CheckpointError, match="decoder-only file: pass a base checkpoint"):
        build_sameo("vitt", tmp_path / "decoder_only.pt")

    encoder = {k[len("image_encoder."):]: v for k, v in tuned.items()
               if k.startswith("image_encoder.")}
    torch.save({"decoder": decoder, "encoder": encoder}, tmp_path / "full.pt")
    model = build_sameo("vitt", tmp_path / "full.pt", base_checkpoint=base)
    expected.update({k: v for k, v in tuned.items() if k.startswith("image_encoder.")})
    _assert_weights_equal(model, expected)


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
