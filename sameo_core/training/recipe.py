"""Training configuration: frozen dataclasses loaded from YAML plus ``key=value`` overrides.

Only plain values are read (numbers, strings, lists, mappings); nothing in a config names a class
or a function to instantiate. Overrides use dotted keys, e.g. ``optim.lr=3e-4 run.steps=100``;
each value is parsed as a YAML scalar or flow sequence (``data.sources=[shapes]``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sameo_core.data.filters import DEFAULT_MAX_OCCLUSION, FILTER_NAMES
from sameo_core.data.procedural_scenes import SceneConfig
from sameo_core.training.heads import check_heads

BATCH_UNITS = ("instances", "images")


@dataclass(frozen=True)
class ModelSpec:
    variant: str = "vitt"  # a name of SAMEO_CONFIGS ("" = the checkpoint's); ignored with `config`
    config: dict[str, Any] = field(default_factory=dict)  # SameoConfig fields (small models)
    checkpoint: str = ""  # initial weights (e.g. converted EfficientSAM); "" = random init
    # The paper trains the mask decoder only. Small from-scratch configurations have no
    # pretrained encoder, so they unfreeze the image and prompt encoders as well.
    train_image_encoder: bool = False
    train_prompt_encoder: bool = False
    multimask: bool = True  # supervise 3 outputs with the min-loss rule (see training/losses.py)
    # Decoders to train: "amodal" (SAMEO, amodal GT masks) and/or "modal" (visible GT masks,
    # same recipe; sameo_core/training/heads.py). A modal head the weights lack starts as a copy
    # of the amodal decoder: for an official EfficientSAM file, that is EfficientSAM's decoder.
    heads: tuple[str, ...] = ("amodal",)


@dataclass(frozen=True)
class DataSpec:
    # FORMAT:PATH sources read by sameo_core.data, or "shapes" (procedural scenes made on the fly)
    sources: tuple[str, ...] = ("shapes",)
    # per source, the folder its image file names are relative to; () = each reader's default
    image_roots: tuple[str, ...] = ()
    prompt_amodal_prob: float = 0.5  # probability of the amodal (vs visible) GT box as prompt
    box_jitter: float = 0.0  # box noise as a fraction of box size; the paper states none
    max_instances_per_image: int = 8  # prompts taken from one image (all, up to this many)
    # A floor checked on every drawn image, procedural ones included; for stored datasets the
    # paper's 10 % filter is `low_visible` in `filters` below.
    min_visible_fraction: float = 0.0  # drop instances whose visible/amodal area is lower
    # Quality filters (paper section 3.2; README.md, "Data"), one list per entry of `sources`
    # (names of sameo_core.data.filters.FILTER_NAMES; [] for `shapes`). () = the default of
    # each source's format (filters.DEFAULT_FILTERS: COCOA drops stuff, WALT heavy occlusion).
    filters: tuple[tuple[str, ...], ...] = ()
    filter_min_visible: float = 0.10  # low_visible: visible < this share of the amodal area
    filter_max_image_share: float = 0.90  # large: amodal mask > this share of the image
    filter_max_occlusion: float = DEFAULT_MAX_OCCLUSION  # heavy_occlusion: occluded more
    shapes_image_size: int = 128  # side of procedural scenes
    # How cluttered the procedural scenes are (sameo_core.data.procedural_scenes.SceneConfig;
    # the defaults are SceneConfig's): objects per scene (inclusive range), the chance that a new
    # object is placed to hide part of an earlier one, and the range of occlusion rates.
    shapes_num_objects: tuple[int, ...] = (2, 4)
    shapes_occlude_probability: float = 0.6
    shapes_occlusion_range: tuple[float, ...] = (0.1, 0.7)

    def scene_config(self) -> SceneConfig:
        """The procedural scenes' clutter (`shapes_*`), validated by `SceneConfig`."""
        if len(self.shapes_num_objects) != 2 or len(self.shapes_occlusion_range) != 2:
            raise ValueError("data.shapes_num_objects and data.shapes_occlusion_range are "
                             "[low, high] pairs")  # fmt: skip
        return SceneConfig(
            image_size=self.shapes_image_size,
            num_objects=tuple(self.shapes_num_objects),  # type: ignore[arg-type]
            occlude_probability=self.shapes_occlude_probability,
            occlusion_range=tuple(self.shapes_occlusion_range),  # type: ignore[arg-type]
        )
    num_workers: int = 0
    val_gt: str = ""  # GT for periodic validation: FORMAT:PATH or an amodal-COCO json; "" = none
    val_image_root: str = ""
    val_max_images: int = 50


@dataclass(frozen=True)
class OptimSpec:
    batch_size: int = 32  # per step, over all ranks, counted in `batch_unit`
    # "instances": prompted instances (paper: 32), at most data.max_instances_per_image from one
    # image; "images": images, each with all its instances up to data.max_instances_per_image
    # prompts (the authors' "maxnum20" checkpoints suggest up to 20), so the number of prompts
    # per step varies and the loss is the mean over the prompts of a rank.
    batch_unit: str = "instances"
    lr: float = 1e-4  # Adam, as in the paper
    weight_decay: float = 0.0
    schedule: str = "none"  # "none" (paper) or "cosine" (to zero at the last step)
    warmup_steps: int = 0
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    loss_dice: float = 1.0
    loss_focal: float = 1.0  # paper: Dice and Focal weighted equally
    loss_iou: float = 0.05  # lambda of paper eq. 2
    # None: eq. 4 as written, no alpha. A number weights object pixels by alpha and background
    # by 1 - alpha (RetinaNet's 0.25, torchvision's default): kept to compare with SAM-style
    # fine-tuning recipes, but at alpha = 0.25 a missed object pixel gets a third of the
    # gradient of a false-positive pixel, which works against completing hidden parts.
    focal_alpha: float | None = None
    # Ours (issue 18), 0 = off (the paper): pixels inside other objects' amodal masks weigh
    # 1 + overlap_weight in both heads' Dice and focal terms (sameo_core/training/losses.py).
    overlap_weight: float = 0.0


@dataclass(frozen=True)
class RunSpec:
    out_dir: str = "runs/sameo"
    steps: int = 40000
    seed: int = 0
    device: str = "auto"  # "auto" = cuda if available, else cpu
    amp: bool = True  # bf16/fp16 autocast on CUDA only
    deterministic: bool = False
    threads: int = 0  # torch intra-op threads on CPU; 0 = torch default
    ckpt_every: int = 1000
    val_every: int = 1000
    log_every: int = 20
    cache_embeddings: str = ""  # folder of cached image embeddings (frozen encoder only)
    progress: bool = True


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    optim: OptimSpec = field(default_factory=OptimSpec)
    run: RunSpec = field(default_factory=RunSpec)

    def __post_init__(self) -> None:
        if self.optim.batch_size < 1 or self.run.steps < 1:
            raise ValueError("optim.batch_size and run.steps must be positive")
        if self.optim.schedule not in ("none", "cosine"):
            raise ValueError(f"optim.schedule must be 'none' or 'cosine': {self.optim.schedule}")
        if not 0.0 <= self.data.prompt_amodal_prob <= 1.0:
            raise ValueError("data.prompt_amodal_prob must be in [0, 1]")
        if self.run.cache_embeddings and self.model.train_image_encoder:
            raise ValueError("run.cache_embeddings needs a frozen image encoder")
        check_heads(self.model.heads)
        if not self.data.sources:
            raise ValueError("data.sources is empty")
        if self.data.image_roots and len(self.data.image_roots) != len(self.data.sources):
            raise ValueError("data.image_roots needs one entry per data.sources entry")
        if self.optim.batch_unit not in BATCH_UNITS:
            raise ValueError(f"optim.batch_unit must be one of {BATCH_UNITS}: "
                             f"{self.optim.batch_unit!r}")  # fmt: skip
        if self.data.max_instances_per_image < 1:
            raise ValueError("data.max_instances_per_image must be positive")
        _check_filters(self.data)
        self.data.scene_config()  # validates the procedural scenes' settings
        if not (math.isfinite(self.optim.overlap_weight) and self.optim.overlap_weight >= 0):
            raise ValueError(f"optim.overlap_weight must be finite and >= 0, got "
                             f"{self.optim.overlap_weight}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _check_filters(data: DataSpec) -> None:
    if data.filters and len(data.filters) != len(data.sources):
        raise ValueError("data.filters needs one list of filter names per data.sources entry")
    for source, names in zip(data.sources, data.filters):
        unknown = sorted(set(names) - set(FILTER_NAMES))
        if unknown:
            raise ValueError(f"data.filters of {source!r}: unknown {unknown}; known: "
                             f"{', '.join(FILTER_NAMES)}")  # fmt: skip
        if names and ":" not in source:
            raise ValueError(f"data.filters of {source!r}: filters apply to stored datasets "
                             "(FORMAT:PATH); give [] for procedural sources")  # fmt: skip
    for name in ("filter_min_visible", "filter_max_image_share", "filter_max_occlusion"):
        if not 0.0 <= getattr(data, name) <= 1.0:
            raise ValueError(f"data.{name} must be in [0, 1], got {getattr(data, name)}")


def _plain(value: Any) -> Any:
    """Tuples → lists, recursively, so that the dict dumps to plain YAML/JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _to_float(value: Any, where: str) -> float:
    # PyYAML reads "3e-4" (no dot) as a string: accept any numeral for a float field.
    if isinstance(value, bool):
        raise TypeError(f"{where}: expected float, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected float, got {value!r}") from None


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a field's type ``hint`` and convert lists to tuples."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a mapping, got {value!r}")
        return build_dataclass(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        (item_hint, _) = typing.get_args(hint)
        return tuple(_convert(v, item_hint, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        return _convert(value, options[0], where) if len(options) == 1 else value
    if hint is float:
        return _to_float(value, where)
    if hint in (int, str, bool) and type(value) is not hint:
        raise TypeError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def build_dataclass(cls: type, values: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from a nested mapping, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested mapping (returns a new mapping)."""
    result = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form key=value")
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw) if raw else ""
    return result


def load_config(path: str | Path | None, overrides: list[str] | None = None,
                cls: type = TrainConfig) -> Any:
    """Read a YAML config (or start from defaults when ``path`` is None), apply overrides and
    build ``cls`` (a training recipe by default; e.g. the order head's `OrderTrainConfig`)."""
    values: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text()
        values = yaml.safe_load(text) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: the top level must be a mapping")
    values = apply_overrides(values, list(overrides or []))
    return build_dataclass(cls, values)
