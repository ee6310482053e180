"""Training data sources: stored amodal datasets (``FORMAT:PATH``) or procedural ``shapes``.

A source hands out :class:`Sample` images from a ``numpy.random.Generator``; the caller makes the
generator from (seed, rank, step), so a step's data never depends on what ran before it. That is
what makes ``--resume`` exact and gives every rank its own stream (DistributedSampler-like).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sameo_core.data.images import read_image_rgb
from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.data.records import ImageGroup, group_by_image
from sameo_core.data.registry import parse_spec, read_dataset
from sameo_core.training.batches import Sample

SHAPES = "shapes"


class ProceduralScenes:
    """Endless procedural scenes (``sameo_core.data.procedural_scenes.generate_scene``), made
    on the fly."""

    name = SHAPES

    def __init__(self, image_size: int, nominal_size: int = 100_000) -> None:
        self.config = SceneConfig(image_size=image_size)
        self.nominal_size = nominal_size  # weight in the log-size dataset mix

    def __len__(self) -> int:
        return self.nominal_size

    def sample(self, rng: np.random.Generator) -> Sample:
        image, instances = generate_scene(rng, self.config)
        return Sample(
            image,
            np.stack([i.amodal_mask for i in instances]),
            np.stack([i.visible_mask for i in instances]),
        )


@dataclass
class FileSource:
    """The images of a stored dataset, each with its validated instances."""

    name: str
    groups: list[ImageGroup]

    def __len__(self) -> int:
        return len(self.groups)

    def load(self, index: int) -> Sample:
        group = self.groups[index]
        image = read_image_rgb(group.image_path)
        if image.shape[:2] != (group.height, group.width):
            raise ValueError(
                f"{group.image_path} is {image.shape[1]}x{image.shape[0]}, the annotation says "
                f"{group.width}x{group.height}"
            )
        return Sample(
            image,
            np.stack([r.amodal_mask.astype(bool) for r in group.instances]),
            np.stack([r.visible_mask.astype(bool) for r in group.instances]),
            key=f"{group.source}/{group.image_id}",
        )

    def sample(self, rng: np.random.Generator) -> Sample:
        return self.load(int(rng.integers(len(self.groups))))


Source = ProceduralScenes | FileSource


def open_source(spec: str, image_root: str = "", shapes_image_size: int = 128) -> Source:
    """``shapes`` or ``FORMAT:PATH`` (a reader name of ``sameo_core.data.registry``)."""
    if spec == SHAPES:
        return ProceduralScenes(shapes_image_size)
    fmt, path = parse_spec(spec)
    result = read_dataset(fmt, path, image_root or None)
    groups = group_by_image(result.records)
    if not groups:
        raise ValueError(f"data source {spec!r} holds no usable instance")
    return FileSource(f"{fmt}:{Path(path).name}", groups)
