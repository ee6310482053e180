"""Cached image embeddings (frozen encoder): equal to the encoder's, and training uses them."""

import json
from pathlib import Path

import pytest
import torch
from helpers.tiny_training import tiny_overrides

from sameo_core.model import SAMEO_CONFIGS, build_sameo
from sameo_core.training.batches import image_tensor
from sameo_core.training.embedding_cache import EmbeddingCache, encoder_fingerprint, fill
from sameo_core.training.sources import open_source
from training.train import get_args_parser, main

CONFIG = str(Path(__file__).resolve().parents[2] / "config" / "train_cpu_shapes.yaml")


def test_cache_matches_the_encoder(tmp_path, synth_gt):
    torch.manual_seed(0)
    model = build_sameo(config=SAMEO_CONFIGS["test"])
    source = open_source(f"amodal_coco:{synth_gt}")
    cache = EmbeddingCache(tmp_path, encoder_fingerprint(model))
    assert fill(cache, [source], model, torch.device("cpu")) == len(source) == 8
    assert fill(cache, [source], model, torch.device("cpu")) == 0  # nothing left to add
    sample = source.load(3)
    expected = model.image_embeddings(image_tensor(sample.image, 64)[None])
    cached = cache.load((sample.key,), torch.device("cpu"))
    torch.testing.assert_close(cached, expected, atol=2e-3, rtol=2e-3)  # stored as float16
    with pytest.raises(KeyError, match="not in the embedding cache"):
        cache.load(("nope/1",), torch.device("cpu"))
    other = build_sameo(config=SAMEO_CONFIGS["test"])  # other weights → other cache folder
    assert encoder_fingerprint(other) != encoder_fingerprint(model)


def test_training_with_cache_and_gt_validation(tmp_path, synth_gt):
    out = tmp_path / "run"
    overrides = tiny_overrides(out, 3, **{
        "data.sources": f"[amodal_coco:{synth_gt}]", "model.train_image_encoder": "false",
        "run.cache_embeddings": str(tmp_path / "cache"), "data.val_gt": str(synth_gt),
        "data.val_max_images": 2})  # fmt: skip
    assert main(get_args_parser().parse_args(["--config", CONFIG,
                                              *overrides])) == 0  # fmt: skip
    assert len(list((tmp_path / "cache").glob("*/*.pt"))) == 8
    assert (out / "model_final.pt").is_file()
    val = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()][-1]
    assert val["split"] == "val" and 0.0 <= val["gt-modal/AP"] <= 1.0
    assert 0.0 <= val["gt-amodal/mIoU_occluded"] <= 1.0


def test_procedural_shapes_cannot_be_cached(tmp_path):
    overrides = tiny_overrides(tmp_path, 2, **{"model.train_image_encoder": "false",
                                               "run.cache_embeddings": str(tmp_path / "c")})
    with pytest.raises(ValueError, match="stored datasets only"):
        main(get_args_parser().parse_args(["--config", CONFIG,
                                           *overrides]))  # fmt: skip
