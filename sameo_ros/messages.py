"""FrameResult -> AmodalMaskArray (and debug Image) messages, for any message implementation.

The node builds rclpy messages and the replay tool rosbags messages with the same code: both take
the message classes through `MessageTypes` and every field as a keyword argument.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .conversions import mono8_fields, rgb8_fields, xyxy_to_center_size
from .pipeline import FrameResult, MaskRecord


@dataclass(frozen=True)
class MessageTypes:
    """Message classes by role, and how a uint8[] field takes a numpy array."""

    time: Callable[..., Any]
    header: Callable[..., Any]
    image: Callable[..., Any]
    point2d: Callable[..., Any]
    pose2d: Callable[..., Any]
    bbox: Callable[..., Any]
    hypothesis: Callable[..., Any]
    amodal_mask: Callable[..., Any]
    amodal_mask_array: Callable[..., Any]
    frame_stats: Callable[..., Any]
    uint8_array: Callable[[np.ndarray], Any]


def _uint8_array(pixels: np.ndarray) -> array.array:
    """uint8 pixels as the array.array('B') rclpy keeps uint8[] fields in (one copy)."""
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(pixels).data)
    return out


def rclpy_types() -> MessageTypes:
    """The generated rclpy classes (needs the colcon-built workspace on the path)."""
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from vision_msgs.msg import BoundingBox2D, ObjectHypothesis, Point2D, Pose2D

    from sameo_ros.msg import AmodalMask, AmodalMaskArray, FrameStats

    return MessageTypes(
        Time,
        Header,
        Image,
        Point2D,
        Pose2D,
        BoundingBox2D,
        ObjectHypothesis,
        AmodalMask,
        AmodalMaskArray,
        FrameStats,
        _uint8_array,
    )


def rosbags_types(typestore: Any) -> MessageTypes:
    """Classes of a rosbags typestore holding our messages and vision_msgs."""
    t = typestore.types
    return MessageTypes(
        t["builtin_interfaces/msg/Time"],
        t["std_msgs/msg/Header"],
        t["sensor_msgs/msg/Image"],
        t["vision_msgs/msg/Point2D"],
        t["vision_msgs/msg/Pose2D"],
        t["vision_msgs/msg/BoundingBox2D"],
        t["vision_msgs/msg/ObjectHypothesis"],
        t["sameo_ros/msg/AmodalMask"],
        t["sameo_ros/msg/AmodalMaskArray"],
        t["sameo_ros/msg/FrameStats"],
        lambda a: a,
    )


def copy_header(types: MessageTypes, header: Any) -> Any:
    """The input header, rebuilt with `types` (stamp and frame_id pass through unchanged)."""
    stamp = types.time(sec=int(header.stamp.sec), nanosec=int(header.stamp.nanosec))
    return types.header(stamp=stamp, frame_id=str(header.frame_id))


def _image(types: MessageTypes, header: Any, fields: dict[str, Any]) -> Any:
    fields = dict(fields, data=types.uint8_array(fields["data"]))
    return types.image(header=header, **fields)


def _bbox(types: MessageTypes, xyxy: np.ndarray) -> Any:
    cx, cy, sx, sy = xyxy_to_center_size(xyxy)
    center = types.pose2d(position=types.point2d(x=cx, y=cy), theta=0.0)
    return types.bbox(center=center, size_x=sx, size_y=sy)


def amodal_mask(types: MessageTypes, header: Any, record: MaskRecord) -> Any:
    return types.amodal_mask(
        id=record.id,
        hypothesis=types.hypothesis(class_id=record.class_id, score=record.detector_score),
        score=record.score,
        predicted_iou=record.iou,
        prompt_box=_bbox(types, record.prompt_box),
        amodal_box=_bbox(types, record.amodal_box),
        x_offset=record.offset[0],
        y_offset=record.offset[1],
        mask=_image(types, header, mono8_fields(record.mask)),
        visible_fraction=record.visible_fraction,
    )


def amodal_mask_array(types: MessageTypes, header: Any, result: FrameResult) -> Any:
    """AmodalMaskArray of one frame; `header` is the source image's, built with `types`."""
    return types.amodal_mask_array(
        header=header, masks=[amodal_mask(types, header, r) for r in result.records]
    )


def rgb_image(types: MessageTypes, header: Any, rgb: np.ndarray) -> Any:
    return _image(types, header, rgb8_fields(rgb))
