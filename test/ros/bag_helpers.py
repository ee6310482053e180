"""rosbags helpers for the ROS tests (no ROS needed): small rosbag2 inputs, CDR padding maps."""

from __future__ import annotations

import functools
import struct
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sameo_ros.bagtypes import VISION_INPUT_TYPES, output_typestore, types_from_dir
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


@functools.cache
def output_store() -> Any:
    """rosbags typestore of the node's outputs (and inputs) from test/ros/vision_msgs, no ROS."""
    return output_typestore(types_from_dir(VISION_MSGS, "vision_msgs", VISION_INPUT_TYPES))


_PRIMITIVE_SIZES = {
    "bool": 1, "byte": 1, "char": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
    "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8, "float64": 8,
}  # fmt: skip


def cdr_padding(typestore: Any, raw: bytes, typename: str) -> list[int]:
    """Offsets of the alignment padding bytes in the little-endian CDR `raw` of `typename`,
    found by walking the typestore's field definitions (independent of sameo_ros.cdr)."""
    pads: list[int] = []
    pos = 4

    def align(size: int) -> None:
        nonlocal pos
        gap = -(pos - 4) % size
        pads.extend(range(pos, pos + gap))
        pos += gap

    def uint32() -> int:
        nonlocal pos
        align(4)
        (value,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        return value

    def field(desc: Any, count: int = 1) -> None:
        nonlocal pos
        kind, arg = desc
        if kind == Nodetype.BASE and arg[0] != "string":
            if count:
                align(_PRIMITIVE_SIZES[arg[0]])
                pos += count * _PRIMITIVE_SIZES[arg[0]]
            return
        for _ in range(count):
            if kind == Nodetype.BASE:  # string
                length = uint32()
                pos += length
            elif kind == Nodetype.NAME:
                for _name, sub in typestore.fielddefs[arg][1]:
                    field(sub)
            elif kind == Nodetype.ARRAY:
                field(arg[0], arg[1])
            else:  # sequence
                field(arg[0], uint32())

    field((Nodetype.NAME, typename))
    assert raw[:4] == b"\x00\x01\x00\x00" and pos == len(raw), (pos, len(raw))
    return pads


def assert_same_cdr(expected: bytes, actual: bytes, typestore: Any, typename: str) -> None:
    """`actual` (e.g. from rclpy, whose Fast CDR leaves alignment padding uninitialized) has the
    bytes of `expected` everywhere but in the padding, which `expected` fills with zeros."""
    assert len(actual) == len(expected)
    pads = cdr_padding(typestore, expected, typename)
    want, got = np.frombuffer(expected, np.uint8), np.frombuffer(actual, np.uint8)
    data = np.ones(len(expected), bool)
    data[pads] = False
    differ = np.flatnonzero(data & (want != got))
    assert differ.size == 0, f"bytes differ at {differ[:20].tolist()} (of {len(expected)})"
    assert not want[pads].any(), "expected padding is not zero"
