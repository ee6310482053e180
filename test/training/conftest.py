"""Fixtures for the training/evaluation tests: a tiny amodal GT set."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_gt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 occluded/original pairs of 64 px procedural shapes (amodal-COCO GT + PNG images)."""
    from training.synthesize import Job, generate

    out = tmp_path_factory.mktemp("synth")
    generate(Job(out=out, source="shapes", num_images=4, seed=7, image_size=64))
    return out / "annotations.json"
