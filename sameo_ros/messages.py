"""Building sameo's output messages from mask records, with either library's message classes.

The node builds rclpy's generated classes (`rclpy_types()`), the ROS-free replay tool rosbags'
(`replay.rosbags_types`); both go through the same functions here, so an AmodalMask is made in
one place: `amodal_mask(types, header, record)`. A new per-mask field is one line there plus the
record field it comes from (pipeline.MaskRecord).

float32 fields saturate: a value beyond float32's finite range (a detector score of 1e39, say)
is written as +/-3.4028235e38, and NaN stays NaN (msg/AmodalMask.msg).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .conversions import xyxy_to_center_size

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class MessageTypes:
    """One library's message classes by ROS type name, and the form it takes uint8[] data in."""

    lookup: Callable[[str], Any]  # "sensor_msgs/msg/Image" -> class
    byte_data: Callable[[np.ndarray], Any]  # contiguous uint8 [n] -> a value for a uint8[] field

    def make(self, typename: str, **fields: Any) -> Any:
        return self.lookup(typename)(**fields)


@functools.cache
def _rclpy_class(typename: str) -> Any:
    package, kind, name = typename.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def rclpy_types() -> MessageTypes:
    """rclpy's generated classes (the packages must be importable: a sourced workspace)."""
    # bytes initialise an array.array('B') field with one copy (a list or an ndarray would be
    # walked element by element).
    return MessageTypes(_rclpy_class, lambda data: data.tobytes())


def float32(value: float) -> float:
    """`value` for a float32 field: saturated to the finite float32 range; NaN stays NaN."""
    return min(max(float(value), -FLOAT32_MAX), FLOAT32_MAX)


def header(types: MessageTypes, stamp: int, frame_id: str) -> Any:
    """std_msgs/Header with the stamp `stamp` (integer nanoseconds)."""
    sec, nanosec = divmod(int(stamp), 1_000_000_000)
    time = types.make("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)
    return types.make("std_msgs/msg/Header", stamp=time, frame_id=frame_id)


def copy_header(types: MessageTypes, source: Any) -> Any:
    """`source` (any std_msgs/Header) rebuilt with `types`: stamp and frame_id pass through."""
    time = types.make(
        "builtin_interfaces/msg/Time", sec=int(source.stamp.sec), nanosec=int(source.stamp.nanosec)
    )
    return types.make("std_msgs/msg/Header", stamp=time, frame_id=str(source.frame_id))


def bounding_box(types: MessageTypes, xyxy: np.ndarray) -> Any:
    """vision_msgs/BoundingBox2D (center + size, theta 0) of an xyxy pixel box."""
    cx, cy, size_x, size_y = xyxy_to_center_size(xyxy)
    position = types.make("vision_msgs/msg/Point2D", x=cx, y=cy)
    center = types.make("vision_msgs/msg/Pose2D", position=position, theta=0.0)
    return types.make("vision_msgs/msg/BoundingBox2D", center=center, size_x=size_x, size_y=size_y)


def image(types: MessageTypes, source_header: Any, pixels: np.ndarray, encoding: str) -> Any:
    """sensor_msgs/Image of uint8 [H, W] (mono8) or [H, W, C] pixels, rows packed."""
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = data.shape[:2]
    return types.make(
        "sensor_msgs/msg/Image", header=source_header, height=height, width=width,
        encoding=encoding, is_bigendian=0, step=data[0].size if height else 0,
        data=types.byte_data(data.reshape(-1)),
    )  # fmt: skip


def mono8_mask(types: MessageTypes, source_header: Any, mask: np.ndarray) -> Any:
    """A bool [h, w] mask as a mono8 Image: 255 inside, 0 outside."""
    pixels = np.ascontiguousarray(mask, dtype=bool).view(np.uint8) * np.uint8(255)
    return image(types, source_header, pixels, "mono8")


def rgb_image(types: MessageTypes, source_header: Any, rgb: np.ndarray) -> Any:
    return image(types, source_header, rgb, "rgb8")


def amodal_mask(types: MessageTypes, source_header: Any, record: Any) -> Any:
    """sameo_ros/AmodalMask of one pipeline.MaskRecord (the field meanings: msg/AmodalMask.msg)."""
    hypothesis = types.make(
        "vision_msgs/msg/ObjectHypothesis", class_id=record.class_id, score=record.detector_score
    )
    return types.make(
        "sameo_ros/msg/AmodalMask",
        id=record.id,
        hypothesis=hypothesis,
        score=float32(record.score),
        predicted_iou=float32(record.iou),
        prompt_box=bounding_box(types, record.prompt_box),
        amodal_box=bounding_box(types, record.amodal_box),
        x_offset=int(record.offset[0]),
        y_offset=int(record.offset[1]),
        mask=mono8_mask(types, source_header, record.mask),
        visible_fraction=float32(record.visible_fraction),
    )


def amodal_mask_array(types: MessageTypes, source_header: Any, records: Sequence[Any]) -> Any:
    """AmodalMaskArray of one frame; `source_header` is the image's, built with `types`."""
    return types.make(
        "sameo_ros/msg/AmodalMaskArray",
        header=source_header,
        masks=[amodal_mask(types, source_header, r) for r in records],
    )
