"""Build small rosbag2 inputs for the replay tests with rosbags (no ROS needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sameo_ros.bagtypes import VISION_INPUT_TYPES, types_from_dir
from sameo_ros.frame_messages import detections_message, header_at, image_message
from sameo_ros.scene import Frame

VISION_MSGS = Path(__file__).resolve().parent / "vision_msgs" / "msg"


def input_typestore() -> Any:
    typestore = get_typestore(Stores.ROS2_JAZZY)
    typestore.register(types_from_dir(VISION_MSGS, "vision_msgs", VISION_INPUT_TYPES))
    return typestore


def image(typestore: Any, rgb: np.ndarray, stamp: int, **override: Any) -> Any:
    return image_message(typestore, rgb, header_at(typestore, stamp), **override)


def detections(typestore: Any, frame: Frame, stamp: int) -> Any:
    return detections_message(typestore, frame, header_at(typestore, stamp))


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
