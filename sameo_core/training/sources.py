"""Training data sources: stored amodal datasets (``FORMAT:PATH``) or procedural ``shapes``.

A source hands out :class:`Sample` images from a ``numpy.random.Generator``; the caller makes the
generator from (seed, rank, step), so a step's data never depends on what ran before it. That is
what makes ``--resume`` exact and gives every rank its own stream (DistributedSampler-like).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sameo_core.data.filters import (
    DEFAULT_FILTERS,
    FilterConfig,
    FilterReport,
    apply_filters,
    filter_config,
)
from sameo_core.data.images import read_image_rgb
from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.data.read_report import ReadReport
from sameo_core.data.records import ImageGroup, group_by_image
from sameo_core.data.registry import has_visible_masks, parse_spec, read_dataset
from sameo_core.training.batches import Sample
from sameo_core.training.recipe import DataSpec

SHAPES = "shapes"


class ProceduralScenes:
    """Endless procedural scenes (``sameo_core.data.procedural_scenes.generate_scene``), made
    on the fly."""

    name = SHAPES

    def __init__(
        self, image_size: int, nominal_size: int = 100_000, config: SceneConfig | None = None
    ) -> None:
        """`config` (its image_size replaced by `image_size`): the scenes' clutter."""
        self.config = dataclasses.replace(config or SceneConfig(), image_size=image_size)
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
    """The images of a stored dataset, each with its validated instances (after the quality
    filters, when `open_source` was given any)."""

    name: str
    groups: list[ImageGroup]
    read_report: ReadReport | None = None
    filter_report: FilterReport | None = None
    filters: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, object]:
        """What was read and what the filters removed (printed and logged at the start)."""
        out: dict[str, object] = {
            "source": self.name, "images": len(self.groups),
            "instances": sum(len(g.instances) for g in self.groups),
            "filters": list(self.filters),
        }  # fmt: skip
        if self.filter_report is not None:
            out["removed"] = dict(sorted(self.filter_report.removed.items()))
        if self.read_report is not None:
            out["dropped_by_reader"] = dict(sorted(self.read_report.bad.items()))
        return out

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


def source_filters(data: DataSpec, index: int) -> FilterConfig | None:
    """The quality filters of ``data.sources[index]``: its entry of ``data.filters``, else its
    format's default (``sameo_core.data.filters.DEFAULT_FILTERS``); None for ``shapes``."""
    spec = data.sources[index]
    if spec == SHAPES:
        return None
    names = data.filters[index] if data.filters else DEFAULT_FILTERS.get(parse_spec(spec)[0], ())
    return filter_config(
        names, min_visible_fraction=data.filter_min_visible,
        max_image_fraction=data.filter_max_image_share, max_occlusion=data.filter_max_occlusion,
    )  # fmt: skip


def open_source(
    spec: str,
    image_root: str = "",
    shapes_image_size: int = 128,
    filters: FilterConfig | None = None,
    scene_config: SceneConfig | None = None,
) -> Source:
    """``shapes`` or ``FORMAT:PATH`` (a reader name of ``sameo_core.data.registry``), with the
    quality ``filters`` applied to a stored dataset (None: every valid instance); procedural
    scenes are made with ``scene_config`` (None: `SceneConfig`'s defaults)."""
    if spec == SHAPES:
        return ProceduralScenes(shapes_image_size, config=scene_config)
    fmt, path = parse_spec(spec)
    if not has_visible_masks(fmt):
        raise ValueError(f"data source {spec!r}: format {fmt} has no visible masks, which "
                         "visible-box prompts and occlusion rates need")  # fmt: skip
    result = read_dataset(fmt, path, image_root or None)
    records, report = result.records, None
    if filters is not None:
        records, report = apply_filters(records, filters)
    groups = group_by_image(records)
    if not groups:
        raise ValueError(f"data source {spec!r} holds no usable instance")
    names = filters.names if filters is not None else ()
    return FileSource(f"{fmt}:{Path(path).name}", groups, result.report, report, names)

