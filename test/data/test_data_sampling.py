"""Mixed-dataset sampling ∝ log(size) and modal/amodal box prompts."""

import math
from collections import Counter

import numpy as np
import pytest

from sameo_core.data.sampling import DatasetMixer, PromptConfig, sample_prompt_box

SIZES = {"kins": 188_085, "cocoa": 32_926, "mp3d": 2_968, "tiny": 1}


def test_mixer_follows_log_size_proportions():
    mixer = DatasetMixer(SIZES, seed=0)
    n = 40_000
    counts = Counter(mixer.sample_many(n))
    logs = {k: math.log(max(v, 2)) for k, v in SIZES.items()}
    total = sum(logs.values())
    for name, log_size in logs.items():
        expected = log_size / total
        assert counts[name] / n == pytest.approx(expected, abs=4 * math.sqrt(expected / n))
    assert counts["kins"] > counts["cocoa"] > counts["mp3d"] > counts["tiny"] > 0


def test_mixer_is_deterministic_and_rejects_empty():
    assert DatasetMixer(SIZES, seed=3).sample_many(50) == DatasetMixer(SIZES, seed=3).sample_many(
        50
    )
    assert DatasetMixer(SIZES, seed=3).sample() in SIZES
    with pytest.raises(ValueError, match="empty"):
        DatasetMixer({"a": 10, "b": 0})
    with pytest.raises(ValueError, match="no datasets"):
        DatasetMixer({})


VISIBLE, AMODAL = (10.0, 10.0, 30.0, 20.0), (10.0, 10.0, 30.0, 40.0)  # xyxy


def test_prompt_is_modal_or_amodal_with_equal_probability():
    rng = np.random.default_rng(0)
    n = 4000
    boxes = [sample_prompt_box(rng, VISIBLE, AMODAL, (100, 100)) for _ in range(n)]
    kinds = Counter(b.kind for b in boxes)
    assert kinds["amodal"] / n == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / n))
    for b in boxes:
        assert b.xyxy == ((10.0, 10.0, 30.0, 40.0) if b.kind == "amodal" else (10, 10, 30, 20))


def test_jitter_moves_edges_by_a_fraction_of_the_box_and_stays_in_the_image():
    rng = np.random.default_rng(1)
    cfg = PromptConfig(amodal_probability=1.0, jitter=0.1)
    boxes = np.array([sample_prompt_box(rng, VISIBLE, AMODAL, (45, 100), cfg).xyxy
                      for _ in range(2000)])  # fmt: skip
    assert boxes[:, 0].std() == pytest.approx(0.1 * 20, rel=0.15)  # x0 noise ~ 0.1 * width
    assert boxes[:, 1].std() == pytest.approx(0.1 * 30, rel=0.15)
    assert (boxes[:, 3] <= 45).all() and (boxes >= 0).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_prompt_config_is_validated():
    with pytest.raises(ValueError, match="jitter"):
        PromptConfig(jitter=-1)
    with pytest.raises(ValueError, match="amodal_probability"):
        PromptConfig(amodal_probability=2)
