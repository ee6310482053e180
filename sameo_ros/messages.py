"""FrameResult -> AmodalMaskArray (and debug Image) messages, as rosbags dataclasses.

The node (which publishes their CDR bytes, see wire.py) and the replay tool (which writes them to a
bag) build them with the same code; the classes come from a typestore through `MessageTypes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .conversions import mono8_fields, rgb8_fields, xyxy_to_center_size
from .pipeline import FrameResult, MaskRecord


@dataclass(frozen=True)
class MessageTypes:
    """Message classes by role."""

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
    )


def copy_header(types: MessageTypes, header: Any) -> Any:
    """The input header, rebuilt with `types` (stamp and frame_id pass through unchanged)."""
    stamp = types.time(sec=int(header.stamp.sec), nanosec=int(header.stamp.nanosec))
    return types.header(stamp=stamp, frame_id=str(header.frame_id))


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
        mask=types.image(header=header, **mono8_fields(record.mask)),
        visible_fraction=record.visible_fraction,
    )


def amodal_mask_array(types: MessageTypes, header: Any, result: FrameResult) -> Any:
    """AmodalMaskArray of one frame; `header` is the source image's, built with `types`."""
    return types.amodal_mask_array(
        header=header, masks=[amodal_mask(types, header, r) for r in result.records]
    )


def rgb_image(types: MessageTypes, header: Any, rgb: np.ndarray) -> Any:
    return types.image(header=header, **rgb8_fields(rgb))
