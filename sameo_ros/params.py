"""The node's ROS parameters, declared once here, and their validation into a plain dataclass.

ROS-free: the node declares exactly `PARAMETERS` and checks every change with `checked_update`;
the replay tool builds the same `NodeConfig` from its command line; tests check
config/sameo.yaml and the launch file against it.

Topics are fixed relative names (`image`, `detections`, `amodal_masks`, `debug_image`, `stats`,
the service `segment`; with `depth: true` also `depth`, `camera_info`, `detections_3d` and, with
`point_cloud: true`, `points`), remapped in launch as the ROS convention has it; there are no
topic parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

RELIABILITIES = ("best_effort", "reliable")
DTYPES = ("float32", "bfloat16", "float16")
IMAGE_TRANSPORTS = ("raw", "compressed")


@dataclass(frozen=True)
class NodeConfig:
    """Validated node settings; field names are the ROS parameter names."""

    checkpoint: str = ""  # SAMEO checkpoint file; empty = random weights (tests only)
    variant: str = ""  # model size (vitt, vits, test); empty = from the checkpoint, else vitt
    device: str = "cpu"
    dtype: str = "float32"
    managed: bool = False  # lifecycle transitions come from outside (launch managed:=true)
    image_transport: str = "raw"
    qos_reliability: str = "best_effort"
    qos_depth: int = 5
    sync_slop: float = 0.05
    max_detections: int = 20
    score_threshold: float = 0.0
    mask_threshold: float = 0.0
    chunk_size: int = 4
    debug_image: bool = True
    depth: bool = False  # RGB-D: depth + camera_info in, detections_3d out
    point_cloud: bool = False  # with depth: the visible points, labelled by instance
    depth_wait: float = 0.1
    stats_period: float = 5.0
    stats_window: int = 100

    def __post_init__(self) -> None:
        _validate(self)


DESCRIPTIONS: dict[str, str] = {
    "checkpoint": "SAMEO checkpoint (.pt or .safetensors); empty = random weights (tests only)",
    "variant": "model size: vitt, vits or test; empty = from the checkpoint (vitt without one)",
    "device": "torch device: cpu, cuda or cuda:N",
    "dtype": "inference dtype: float32, bfloat16 or float16 (half types need cuda)",
    "managed": "lifecycle node driven from outside (true) or configuring and activating itself",
    "image_transport": "raw: sensor_msgs/Image on image; compressed: CompressedImage (jpeg, "
    "png) on image/compressed",
    "qos_reliability": "input QoS reliability: best_effort (matches any publisher) or reliable",
    "qos_depth": "input QoS history depth (KEEP_LAST) of both inputs",
    "sync_slop": "seconds an image and a detection stamp may differ when no exact match exists",
    "max_detections": "at most this many detections (highest scores) are segmented per frame",
    "score_threshold": "detections scoring below this are ignored",
    "mask_threshold": "logit threshold turning mask logits into the binary amodal mask",
    "chunk_size": "prompts decoded per mask-decoder call (2-4 is fastest on CPU)",
    "debug_image": "draw and publish the overlay on debug_image (only while it has subscribers)",
    "depth": "RGB-D: subscribe to depth (16UC1 mm or 32FC1 m, registered to image) and "
    "camera_info, paired by stamp like the detections; publish detections_3d",
    "point_cloud": "with depth: also publish the visible 3D points of every object on points "
    "(PointCloud2, x y z + instance)",
    "depth_wait": "seconds a frame waits, after its model pass, for a depth image and CameraInfo "
    "within sync_slop of its stamp before it is published without 3D",
    "stats_period": "seconds between latency/fps log lines",
    "stats_window": "frames in the sliding window of the latency and fps figures",
}

PARAMETERS: dict[str, Any] = {f.name: f.default for f in fields(NodeConfig)}

# Read by every frame, so they may change while the node runs; the others take effect when the
# model is loaded (configure), so they may only change while the node is unconfigured.
RUNTIME_PARAMETERS = ("score_threshold", "mask_threshold", "max_detections", "debug_image")


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
    _check(
        c.device == "cpu" or c.device.split(":")[0] == "cuda",
        "device",
        "must be cpu or cuda[:N]",
        c.device,
    )
    _check(c.dtype in DTYPES, "dtype", f"must be one of {DTYPES}", c.dtype)
    _check(c.dtype == "float32" or c.device != "cpu", "dtype", "must be float32 on cpu", c.dtype)
    for name, allowed in (
        ("qos_reliability", RELIABILITIES),
        ("image_transport", IMAGE_TRANSPORTS),
    ):
        _check(getattr(c, name) in allowed, name, f"must be one of {allowed}", getattr(c, name))
    for name in ("qos_depth", "max_detections", "chunk_size", "stats_window"):
        _check(getattr(c, name) >= 1, name, "must be >= 1", getattr(c, name))
    for name in ("sync_slop", "score_threshold", "mask_threshold", "stats_period", "depth_wait"):
        _check(math.isfinite(getattr(c, name)), name, "must be finite", getattr(c, name))
    _check(c.sync_slop >= 0.0, "sync_slop", "must be >= 0", c.sync_slop)
    _check(c.stats_period > 0.0, "stats_period", "must be > 0", c.stats_period)
    _check(c.depth_wait >= 0.0, "depth_wait", "must be >= 0", c.depth_wait)
    _check(c.depth or not c.point_cloud, "point_cloud", "needs depth: true", c.point_cloud)


def _as_declared(values: dict[str, Any]) -> dict[str, Any]:
    """YAML and the command line give `1` for a float parameter: take it as 1.0."""
    return {
        k: float(v) if type(PARAMETERS[k]) is float and type(v) is int else v
        for k, v in values.items()
    }


def config_from_values(values: dict[str, Any]) -> NodeConfig:
    """Build a NodeConfig from parameter values; unknown names are an error (typos in YAML)."""
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown sameo parameters: {unknown}; known: {sorted(PARAMETERS)}")
    return NodeConfig(**_as_declared(values))


def checked_update(
    values: dict[str, Any], changes: dict[str, Any], configured: bool
) -> NodeConfig:
    """The NodeConfig of the parameter `values` with `changes` applied, or ValueError with the
    reason the change is refused.

    Once the model is loaded (`configured`) only RUNTIME_PARAMETERS may change; every change
    must leave a valid NodeConfig. Names that are not sameo parameters are not checked here.
    """
    ours = {k: v for k, v in changes.items() if k in PARAMETERS}
    fixed = sorted(k for k in ours if k not in RUNTIME_PARAMETERS and ours[k] != values.get(k))
    if configured and fixed:
        raise ValueError(
            f"parameter {fixed[0]!r} is read when the model is loaded and cannot change while "
            "the node is configured (restart it, or clean up and configure the managed node); "
            f"changeable at run time: {', '.join(RUNTIME_PARAMETERS)}"
        )
    return config_from_values({**values, **ours})
