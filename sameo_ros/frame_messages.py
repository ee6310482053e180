"""A synthetic Frame as the messages a camera and a detector publish: Image and Detection2DArray.

Built as rosbags messages (no ROS needed) from a typestore that holds vision_msgs, e.g.
`WireCodec.typestore`; the client publishes their CDR bytes, the replay tests write them to bags.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conversions import rgb8_fields, xyxy_to_center_size
from .scene import Frame


def header_at(typestore: Any, stamp: int, frame_id: str = "camera") -> Any:
    """std_msgs/Header with the stamp `stamp` (integer nanoseconds)."""
    t = typestore.types
    sec, nanosec = divmod(stamp, 1_000_000_000)
    time = t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return t["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def image_message(typestore: Any, rgb: np.ndarray, header: Any, **override: Any) -> Any:
    """rgb8 sensor_msgs/Image; `override` replaces fields (e.g. to make a malformed image)."""
    fields = dict(rgb8_fields(rgb), **override)
    return typestore.types["sensor_msgs/msg/Image"](header=header, **fields)


def _hypothesis(t: dict[str, Any], class_id: str, score: float) -> Any:
    identity = t["geometry_msgs/msg/Pose"](
        position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
        orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return t["vision_msgs/msg/ObjectHypothesisWithPose"](
        hypothesis=t["vision_msgs/msg/ObjectHypothesis"](class_id=class_id, score=score),
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=identity, covariance=np.zeros(36)),
    )


def _bbox(t: dict[str, Any], xyxy: np.ndarray) -> Any:
    cx, cy, size_x, size_y = xyxy_to_center_size(xyxy)
    position = t["vision_msgs/msg/Point2D"](x=cx, y=cy)
    center = t["vision_msgs/msg/Pose2D"](position=position, theta=0.0)
    return t["vision_msgs/msg/BoundingBox2D"](center=center, size_x=size_x, size_y=size_y)


def detections_message(typestore: Any, frame: Frame, header: Any) -> Any:
    """vision_msgs/Detection2DArray with one detection (box, id, one hypothesis) per instance."""
    t = typestore.types
    detections = [
        t["vision_msgs/msg/Detection2D"](
            header=header,
            results=[_hypothesis(t, class_id, float(score))],
            bbox=_bbox(t, box),
            id=det_id,
        )
        for box, det_id, class_id, score in zip(
            frame.boxes, frame.ids, frame.class_ids, frame.scores
        )
    ]
    return t["vision_msgs/msg/Detection2DArray"](header=header, detections=detections)
