"""rosbags helpers for the ROS tests (no ROS needed): small rosbag2 inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sameo_ros.harness.synthetic_frames import Frame, detections_message, image_message
from sameo_ros.messages import MessageTypes, header
from sameo_ros.replay import VISION_INPUT_TYPES, rosbags_types, types_from_dir

VISION_MSGS = Path(__file__).resolve().parent / "vision_msgs" / "msg"
TOPIC_TYPES = {
    "/image": "sensor_msgs/msg/Image",
    "/compressed": "sensor_msgs/msg/CompressedImage",
    "/detections": "vision_msgs/msg/Detection2DArray",
    "/depth": "sensor_msgs/msg/Image",
    "/camera_info": "sensor_msgs/msg/CameraInfo",
}


def input_typestore() -> Any:
    typestore = get_typestore(Stores.ROS2_JAZZY)
    typestore.register(types_from_dir(VISION_MSGS, "vision_msgs", VISION_INPUT_TYPES))
    return typestore


def input_types() -> MessageTypes:
    return rosbags_types(input_typestore())


def image(types: MessageTypes, rgb: Any, stamp: int, **override: Any) -> Any:
    return image_message(types, rgb, header(types, stamp, "camera"), **override)


def detections(types: MessageTypes, frame: Frame, stamp: int) -> Any:
    return detections_message(types, frame, header(types, stamp, "camera"))


def write_bag(path: Path, messages: list[tuple[str, Any]], storage: str) -> None:
    """messages: (topic, msg) in order; topics as in TOPIC_TYPES."""
    typestore = input_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    used = {topic for topic, _ in messages}
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections = {
            topic: writer.add_connection(topic, TOPIC_TYPES[topic], typestore=typestore)
            for topic in TOPIC_TYPES
            if topic in used
        }
        for k, (topic, msg) in enumerate(messages):
            raw = typestore.serialize_cdr(msg, TOPIC_TYPES[topic])
            writer.write(connections[topic], 1_000_000 * (k + 1), raw)
