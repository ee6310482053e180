"""The node's ROS parameters, declared once here, and their validation into a plain dataclass.

ROS-free: the node declares exactly `PARAMETERS`; the replay tool and the benchmark build the
same `NodeConfig` from their command lines; tests check config/sameo.yaml and the launch file
against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

RELIABILITIES = ("best_effort", "reliable")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class NodeConfig:
    """Validated node settings; field names are the ROS parameter names."""

    checkpoint: str = ""  # SAMEO checkpoint file; empty = random weights (tests only)
    variant: str = ""  # model size (vitt, vits, test); empty = from the checkpoint, else vitt
    device: str = "cpu"
    dtype: str = "float32"
    image_topic: str = "image"
    detections_topic: str = "detections"
    amodal_masks_topic: str = "amodal_masks"
    debug_image_topic: str = "debug_image"
    stats_topic: str = "stats"
    qos_reliability: str = "best_effort"
    qos_depth: int = 5
    sync_slop: float = 0.05
    max_detections: int = 20
    score_threshold: float = 0.0
    mask_threshold: float = 0.0
    chunk_size: int = 4
    debug_image: bool = True
    stats_period: float = 5.0
    stats_window: int = 100

    def __post_init__(self) -> None:
        _validate(self)


DESCRIPTIONS: dict[str, str] = {
    "checkpoint": "SAMEO checkpoint (.pt or .safetensors); empty = random weights (tests only)",
    "variant": "model size: vitt, vits or test; empty = from the checkpoint (vitt without one)",
    "device": "torch device: cpu, cuda or cuda:N",
    "dtype": "inference dtype: float32, bfloat16 or float16 (half types need cuda)",
    "image_topic": "relative name of the sensor_msgs/Image input (remap it in launch)",
    "detections_topic": "relative name of the vision_msgs/Detection2DArray prompt input",
    "amodal_masks_topic": "relative name of the sameo_ros/AmodalMaskArray output",
    "debug_image_topic": "relative name of the overlay image, rendered only while subscribed",
    "stats_topic": "relative name of the per-frame sameo_ros/FrameStats output",
    "qos_reliability": "input QoS reliability: best_effort (matches any publisher) or reliable",
    "qos_depth": "input QoS history depth (KEEP_LAST) of both inputs",
    "sync_slop": "seconds an image and a detection stamp may differ when no exact match exists",
    "max_detections": "at most this many detections (highest scores) are segmented per frame",
    "score_threshold": "detections scoring below this are ignored",
    "mask_threshold": "logit threshold turning mask logits into the binary amodal mask",
    "chunk_size": "prompts decoded per mask-decoder call (2-4 is fastest on CPU)",
    "debug_image": "allow the debug overlay (drawn only while debug_image has subscribers)",
    "stats_period": "seconds between latency/fps log lines",
    "stats_window": "frames in the sliding window of the latency and fps figures",
}

PARAMETERS: dict[str, Any] = {f.name: f.default for f in fields(NodeConfig)}


def _check(ok: bool, name: str, why: str, value: object) -> None:
    if not ok:
        raise ValueError(f"parameter {name!r} {why}, got {value!r}")


def _validate(c: NodeConfig) -> None:
    for f in fields(c):
        value = getattr(c, f.name)
        expected = type(PARAMETERS[f.name])
        _check(
            type(value) is expected or (expected is float and type(value) is int),
            f.name,
            f"must be of type {expected.__name__}",
            value,
        )
        if f.name.endswith("_topic"):
            _check(
                bool(value) and not value.startswith(("/", "~")),
                f.name,
                "must be a non-empty relative topic name (remap it instead)",
                value,
            )
    _check(
        c.device == "cpu" or c.device.split(":")[0] == "cuda",
        "device",
        "must be cpu or cuda[:N]",
        c.device,
    )
    _check(c.dtype in DTYPES, "dtype", f"must be one of {DTYPES}", c.dtype)
    _check(c.dtype == "float32" or c.device != "cpu", "dtype", "must be float32 on cpu", c.dtype)
    _check(
        c.qos_reliability in RELIABILITIES,
        "qos_reliability",
        f"must be one of {RELIABILITIES}",
        c.qos_reliability,
    )
    for name in ("qos_depth", "max_detections", "chunk_size", "stats_window"):
        _check(getattr(c, name) >= 1, name, "must be >= 1", getattr(c, name))
    for name in ("sync_slop", "score_threshold", "mask_threshold", "stats_period"):
        _check(math.isfinite(getattr(c, name)), name, "must be finite", getattr(c, name))
    _check(c.sync_slop >= 0.0, "sync_slop", "must be >= 0", c.sync_slop)
    _check(c.stats_period > 0.0, "stats_period", "must be > 0", c.stats_period)


def config_from_values(values: dict[str, Any]) -> NodeConfig:
    """Build a NodeConfig from parameter values; unknown names are an error (typos in YAML)."""
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown sameo parameters: {unknown}; known: {sorted(PARAMETERS)}")
    values = {
        k: float(v) if type(PARAMETERS[k]) is float and type(v) is int else v
        for k, v in values.items()
    }
    return NodeConfig(**values)
