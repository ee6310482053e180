"""The node's ROS parameters, declared once here, and their validation into a plain dataclass.

ROS-free: the node declares exactly `PARAMETERS` and checks every change with `checked_update`;
the replay tool builds the same `NodeConfig` from its command line; tests check
config/sameo.yaml and the launch file against it.

Topics are fixed relative names (`image`, `detections`, `amodal_masks`, `debug_image`, `stats`,
the service `segment`; with `depth: true` also `depth`, `camera_info`, `detections_3d` and, with
`point_cloud: true`, `points`), remapped in launch as the ROS convention has it; there are no
topic parameters. A named camera `c` (parameter `cameras`) puts its topics under `c/` (README,
"ROS 2 node"); the service stays one per node.

Every parameter that sizes work or memory has an upper bound (`BOUNDS`), each with its reason:
a typo or a hostile parameter file must not make the node allocate what the robot does not have.

The tracker's parameters (`tracking`, `hidden_timeout` and the thresholds in
`TRACKER_PARAMETERS`) keep sameo_core's `TrackerConfig` names and defaults; `tracker_config`
turns them into one, and its validation is the node's (README, "ROS 2 node", Tracking).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from sameo_core.inference.predictor import MAX_IMAGE_PIXELS as PREDICTOR_MAX_PIXELS
from sameo_core.tracking import TrackerConfig
from sameo_core.tracking.tracker_config import MAX_TRACKS_LIMIT

from .conversions import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_LIMIT

RELIABILITIES = ("best_effort", "reliable")
DTYPES = ("float32", "bfloat16", "float16")
IMAGE_TRANSPORTS = ("raw", "compressed")
AUTO = "auto"  # chunk_size by device: 4 on a CPU, all boxes in one call on CUDA
# A camera name: ROS name tokens (a letter or _ first, then letters, digits, _) joined by "/",
# relative (no leading "/" or "~"), so that `<camera>/image` is a valid relative topic name.
CAMERA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class Bound:
    """The largest value a parameter takes, and why (README, "ROS 2 node", Parameters)."""

    limit: int | float
    reason: str


BOUNDS: dict[str, Bound] = {
    "cameras": Bound(8, "each camera holds its own subscriptions, qos_depth input messages, "
                     "stamp buffers and a newest-frame slot; robots carry 2-4 cameras"),
    "max_image_pixels": Bound(min(MAX_IMAGE_PIXELS_LIMIT, PREDICTOR_MAX_PIXELS), "the "
                              "predictor takes images up to 8K UHD (7680 x 4320)"),
    "qos_depth": Bound(20, "the worker serves only the newest pair; a deeper queue only holds "
                       "more images (20 x 25 MB at 4K rgb8 = 500 MB per camera input)"),
    "max_detections": Bound(256, "the mask decoder runs per box with both heads (on a CPU 20 "
                            "boxes cost about one encoder pass), and each mask keeps a crop up "
                            "to the image's size"),
    "chunk_size": Bound(256, "a chunk never holds more boxes than max_detections allows"),
    "stats_window": Bound(10_000, "the window's percentiles are recomputed for every frame"),
    "sync_slop": Bound(1.0, "stamps a second apart are different scenes for a moving camera; the "
                       "stamp buffers hold 16 messages"),
    "depth_wait": Bound(1.0, "the one worker waits for a frame's depth while every camera's next "
                        "frame waits behind it"),
    "stats_period": Bound(3600.0, "an hour between log lines; shorter is the point of the log"),
    "torch_threads": Bound(256, "more threads than cores only oversubscribes them"),
    "max_tracks": Bound(MAX_TRACKS_LIMIT, "every live track is a row of each frame's association "
                        "matrix and, hidden, one more mask in every AmodalMaskArray"),
    "hidden_timeout": Bound(60.0, "an object unseen for a minute has been carried by the motion "
                            "model alone for that long; max_tracks bounds what is kept"),
    "max_stamp_jump": Bound(10.0, "a motion prediction over a gap of more than 10 s is no "
                            "prediction: the tracks are reset instead"),
}


@dataclass(frozen=True)
class NodeConfig:
    """Validated node settings; field names are the ROS parameter names."""

    checkpoint: str = ""  # SAMEO checkpoint file; empty = random weights (tests only)
    variant: str = ""  # model size (vitt, vits, test); empty = from the checkpoint, else vitt
    device: str = "cpu"
    dtype: str = "float32"
    managed: bool = False  # lifecycle transitions come from outside (launch managed:=true)
    cameras: tuple[str, ...] = ("",)  # ("",) = one unnamed camera on the plain topic names
    image_transport: str = "raw"
    qos_reliability: str = "best_effort"
    qos_depth: int = 5
    sync_slop: float = 0.05
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS  # 4096 x 4096: 4K and 12 MP cameras fit
    max_detections: int = 20
    score_threshold: float = 0.0
    mask_threshold: float = 0.0
    chunk_size: int | str = AUTO
    torch_threads: int = 2  # BENCHMARKS.md "Node vs library model time": best on 2 cores
    debug_image: bool = True
    depth: bool = False  # RGB-D: depth + camera_info in, detections_3d out
    point_cloud: bool = False  # with depth: the visible points, labelled by instance
    depth_wait: float = 0.1
    stats_period: float = 5.0
    stats_window: int = 100
    tracking: bool = True  # amodal tracks per camera (camera_tracks.py)
    hidden_timeout: float = TrackerConfig.hidden_timeout
    max_stamp_jump: float = TrackerConfig.max_stamp_jump
    max_tracks: int = TrackerConfig.max_tracks
    visible_threshold: float = TrackerConfig.visible_threshold
    hidden_cover: float = TrackerConfig.hidden_cover
    recover_min_iou: float = TrackerConfig.recover_min_iou
    recover_min_overlap: float = TrackerConfig.recover_min_overlap

    def __post_init__(self) -> None:
        _validate(self)

    def topic(self, camera: str, name: str) -> str:
        """The relative name of topic `name` of `camera` ("" = the unnamed camera: `name`)."""
        return f"{camera}/{name}" if camera else name


DESCRIPTIONS: dict[str, str] = {
    "checkpoint": "SAMEO checkpoint (.pt or .safetensors); empty = random weights (tests only)",
    "variant": "model size: vitt, vits or test; empty = from the checkpoint (vitt without one)",
    "device": "torch device: cpu, cuda or cuda:N",
    "dtype": "inference dtype: float32, bfloat16 or float16 (half types need cuda)",
    "managed": "lifecycle node driven from outside (true) or configuring and activating itself",
    "cameras": "camera names; camera c has its topics under c/ (c/image, c/detections, "
    "c/amodal_masks, ...); [''] = one unnamed camera on image, detections, amodal_masks, ... "
    f"(at most {BOUNDS['cameras'].limit}, unique ROS names); one model serves them all",
    "image_transport": "raw: sensor_msgs/Image on image; compressed: CompressedImage (jpeg, "
    "png) on image/compressed",
    "qos_reliability": "input QoS reliability: best_effort (matches any publisher) or reliable",
    "qos_depth": "input QoS history depth (KEEP_LAST) of both inputs "
    f"(1-{BOUNDS['qos_depth'].limit})",
    "sync_slop": "seconds an image and a detection stamp may differ when no exact match exists "
    f"(0-{BOUNDS['sync_slop'].limit:g})",
    "max_image_pixels": "images with more pixels (width x height, read from the header before "
    "decoding) are refused with a warning "
    f"(1-{BOUNDS['max_image_pixels'].limit}; default: 4K and 12 MP cameras fit)",
    "max_detections": "at most this many detections (highest scores) are segmented per frame "
    f"(1-{BOUNDS['max_detections'].limit})",
    "score_threshold": "detections scoring below this are ignored",
    "mask_threshold": "logit threshold turning mask logits into the binary amodal mask",
    "chunk_size": "prompts decoded per mask-decoder call: auto (4 on a CPU, all boxes in one "
    f"call on CUDA) or a number 1-{BOUNDS['chunk_size'].limit}",
    "torch_threads": "torch intra-op threads of the model; 0 = torch's default (one per core). "
    "2, one per core, is fastest on a 2-core machine; on more cores give it the cores the camera "
    "drivers, the detector and DDS leave free (README, \"ROS 2 node\") "
    f"(0-{BOUNDS['torch_threads'].limit})",
    "debug_image": "draw and publish the overlay on debug_image (only while it has subscribers)",
    "depth": "RGB-D: subscribe to depth (16UC1 mm or 32FC1 m, registered to image) and "
    "camera_info, paired by stamp like the detections; publish detections_3d",
    "point_cloud": "with depth: also publish the visible 3D points of every object on points "
    "(PointCloud2, x y z + instance)",
    "depth_wait": "seconds a frame waits for a depth image and CameraInfo within sync_slop of "
    f"its stamp before it is processed without 3D (0-{BOUNDS['depth_wait'].limit:g})",
    "stats_period": "seconds between latency/fps log lines "
    f"(0.1-{BOUNDS['stats_period'].limit:g})",
    "stats_window": "frames in the sliding window of the latency and fps figures "
    f"(1-{BOUNDS['stats_window'].limit})",
    "tracking": "amodal tracks per camera: track ids stable through occlusion, fully hidden "
    "objects kept in amodal_masks as STATE_HIDDEN (README, \"ROS 2 node\"); false: every frame "
    "alone, track_id 0",
    "hidden_timeout": "seconds a fully hidden object is kept (its confidence falls to 0 over "
    f"them), then its track ends (0-{BOUNDS['hidden_timeout'].limit:g}, > 0)",
    "max_stamp_jump": "a frame stamped more than this many seconds after the camera's previous "
    "one (or before it: a bag loop, a /clock reset) resets the camera's tracks; keep it above "
    f"the camera's time between processed frames (0-{BOUNDS['max_stamp_jump'].limit:g}, > 0)",
    "max_tracks": "most live tracks per camera; new objects beyond it are published untracked "
    f"(track_id 0) with a warning (1-{BOUNDS['max_tracks'].limit})",
    "visible_threshold": "a detected object whose visible fraction is at least this is "
    "STATE_VISIBLE, else STATE_OCCLUDED (0-1, > 0)",
    "hidden_cover": "an undetected track is STATE_HIDDEN when at least this share of its "
    "predicted amodal region is covered by the visible masks of the objects in front (0-1, > 0)",
    "recover_min_iou": "an undetected, uncovered track re-prompted on the frame is "
    "STATE_RECOVERED when SAMEO's predicted IoU is at least this (0-1) ...",
    "recover_min_overlap": "... and the mask overlaps the track's predicted mask by at least "
    "this IoU (0-1, > 0)",
}

# The tracker's settings that are node parameters (the others keep TrackerConfig's defaults).
TRACKER_PARAMETERS = ("hidden_timeout", "max_stamp_jump", "max_tracks", "visible_threshold",
                      "hidden_cover", "recover_min_iou", "recover_min_overlap")


def _ros_value(value: Any) -> Any:
    """A NodeConfig default as a ROS parameter value (tuples are string arrays: lists)."""
    return list(value) if isinstance(value, tuple) else value


PARAMETERS: dict[str, Any] = {f.name: _ros_value(f.default) for f in fields(NodeConfig)}
# Declared with dynamic typing: `chunk_size: 4` (YAML, -p chunk_size:=4) and `chunk_size: auto`.
DYNAMIC_TYPES: dict[str, tuple[type, ...]] = {"chunk_size": (int, str)}

# Read by every frame, so they may change while the node runs; the others take effect when the
# model is loaded (configure), so they may only change while the node is unconfigured.
RUNTIME_PARAMETERS = ("score_threshold", "mask_threshold", "max_detections", "debug_image",
                      "tracking", *TRACKER_PARAMETERS)


def _check(ok: bool, name: str, why: str, value: object) -> None:
    if not ok:
        raise ValueError(f"parameter {name!r} {why}, got {value!r}")


def _check_type(name: str, value: Any) -> None:
    expected = DYNAMIC_TYPES.get(name, (type(PARAMETERS[name]),))
    ok = any(type(value) is t or (t is float and type(value) is int) for t in expected)
    if type(PARAMETERS[name]) is list:  # a string array, kept as a tuple
        ok = type(value) is tuple and all(type(v) is str for v in value)
        expected = (list,)
    _check(ok, name, f"must be of type {' or '.join(t.__name__ for t in expected)}", value)


def _check_upper(name: str, value: float) -> None:
    bound = BOUNDS[name]
    limit = f"{bound.limit:g}" if isinstance(bound.limit, float) else str(bound.limit)
    _check(value <= bound.limit, name, f"must be <= {limit} ({bound.reason})", value)


def _check_cameras(cameras: tuple[str, ...]) -> None:
    _check(len(cameras) >= 1, "cameras", "must name at least one camera ('' = unnamed)", cameras)
    if cameras != ("",):
        bad = [c for c in cameras if not CAMERA_NAME.fullmatch(c)]
        _check(not bad, "cameras", f"must be relative ROS names (letters, digits, _ and /, not "
               f"starting with a digit; '' only alone), not {bad}", cameras)  # fmt: skip
        _check(len(set(cameras)) == len(cameras), "cameras", "must be unique", cameras)


def _validate(c: NodeConfig) -> None:
    for f in fields(c):
        _check_type(f.name, getattr(c, f.name))
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
    _check_cameras(c.cameras)
    _check_upper("cameras", len(c.cameras))
    if isinstance(c.chunk_size, str):
        _check(c.chunk_size == AUTO, "chunk_size", f"must be {AUTO!r} or a number", c.chunk_size)
    for name in ("qos_depth", "max_detections", "chunk_size", "stats_window", "max_image_pixels"):
        value = getattr(c, name)
        if not isinstance(value, str):
            _check(value >= 1, name, "must be >= 1", value)
            _check_upper(name, value)
    _check(c.torch_threads >= 0, "torch_threads", "must be >= 0 (0 = torch's default)",
           c.torch_threads)  # fmt: skip
    _check_upper("torch_threads", c.torch_threads)
    for name in ("sync_slop", "score_threshold", "mask_threshold", "stats_period", "depth_wait"):
        _check(math.isfinite(getattr(c, name)), name, "must be finite", getattr(c, name))
    _check(c.sync_slop >= 0.0, "sync_slop", "must be >= 0", c.sync_slop)
    _check(c.stats_period >= 0.1, "stats_period", "must be >= 0.1", c.stats_period)
    _check(c.depth_wait >= 0.0, "depth_wait", "must be >= 0", c.depth_wait)
    for name in ("sync_slop", "depth_wait", "stats_period"):
        _check_upper(name, getattr(c, name))
    _check(c.depth or not c.point_cloud, "point_cloud", "needs depth: true", c.point_cloud)
    for name in ("max_tracks", "hidden_timeout", "max_stamp_jump"):
        _check(math.isfinite(getattr(c, name)), name, "must be finite", getattr(c, name))
        _check_upper(name, getattr(c, name))
    tracker_config(c)


def tracker_config(c: NodeConfig) -> TrackerConfig:
    """The TrackerConfig of the node's tracker parameters; ValueError naming the parameter."""
    try:
        return TrackerConfig(**{name: getattr(c, name) for name in TRACKER_PARAMETERS})
    except (TypeError, ValueError) as error:  # "<field> must be ..., got ..."
        name, _, why = str(error).partition(" ")
        raise ValueError(f"parameter {name!r} {why}") from None


def _as_declared(values: dict[str, Any]) -> dict[str, Any]:
    """YAML and the command line give `1` for a float parameter: take it as 1.0; a string
    array comes as a list: keep it as a tuple."""
    declared = {}
    for k, v in values.items():
        if type(PARAMETERS[k]) is float and type(v) is int:
            v = float(v)
        elif type(PARAMETERS[k]) is list and isinstance(v, list):
            v = tuple(v)
        declared[k] = v
    return declared


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
