"""Build small rosbag2 inputs for the replay tests with rosbags (no ROS needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sameo_ros.bagtypes import VISION_INPUT_TYPES, types_from_dir
from sameo_ros.conversions import rgb8_fields, xyxy_to_center_size
from sameo_ros.scene import Frame

VISION_MSGS = Path(__file__).resolve().parent / "vision_msgs" / "msg"


def input_typestore() -> Any:
    typestore = get_typestore(Stores.ROS2_JAZZY)
    typestore.register(types_from_dir(VISION_MSGS, "vision_msgs", VISION_INPUT_TYPES))
    return typestore


def _header(t: dict[str, Any], stamp: int) -> Any:
    sec, nanosec = divmod(stamp, 1_000_000_000)
    time = t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return t["std_msgs/msg/Header"](stamp=time, frame_id="camera")


def image(typestore: Any, rgb: np.ndarray, stamp: int, **override: Any) -> Any:
    fields = dict(rgb8_fields(rgb), **override)
    return typestore.types["sensor_msgs/msg/Image"](
        header=_header(typestore.types, stamp), **fields
    )


def detections(typestore: Any, frame: Frame, stamp: int) -> Any:
    t = typestore.types
    header = _header(t, stamp)
    items = []
    for box, det_id, class_id, score in zip(frame.boxes, frame.ids, frame.class_ids, frame.scores):
        cx, cy, sx, sy = xyxy_to_center_size(box)
        center = t["vision_msgs/msg/Pose2D"](
            position=t["vision_msgs/msg/Point2D"](x=cx, y=cy), theta=0.0
        )
        pose = t["geometry_msgs/msg/PoseWithCovariance"](
            pose=t["geometry_msgs/msg/Pose"](
                position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
            ),
            covariance=np.zeros(36),
        )
        result = t["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=t["vision_msgs/msg/ObjectHypothesis"](
                class_id=class_id, score=float(score)
            ),
            pose=pose,
        )
        bbox = t["vision_msgs/msg/BoundingBox2D"](center=center, size_x=sx, size_y=sy)
        items.append(
            t["vision_msgs/msg/Detection2D"](header=header, results=[result], bbox=bbox, id=det_id)
        )
    return t["vision_msgs/msg/Detection2DArray"](header=header, detections=items)


def write_bag(path: Path, messages: list[tuple[str, Any]], storage: str) -> None:
    """messages: (topic, msg) in order; topic '/image' holds Images, '/detections' the rest."""
    typestore = input_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    types = {"/image": "sensor_msgs/msg/Image", "/detections": "vision_msgs/msg/Detection2DArray"}
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections = {
            topic: writer.add_connection(topic, msgtype, typestore=typestore)
            for topic, msgtype in types.items()
        }
        for k, (topic, msg) in enumerate(messages):
            writer.write(
                connections[topic], 1_000_000 * (k + 1), typestore.serialize_cdr(msg, types[topic])
            )
