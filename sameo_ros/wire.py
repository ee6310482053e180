"""Messages as CDR bytes through rosbags' generated (de)serializers instead of rclpy's.

Why: rclpy turns every nested message into Python objects field by field; rosbags' generated code
is 3-4 times faster on this project's CPU (`python -m sameo_ros.bench_wire`: a Detection2DArray of
20 detections 0.89 vs 0.29 ms, a 640x480 Image 0.20 vs 0.045 ms). The node subscribes with
`raw=True` and publishes bytes: its per-frame messages go through frame_cdr.py, FrameStats and
debug images through this codec; the test and benchmark client uses it for everything. The
typestore is built from the same .msg files the installed interface packages were generated from,
so rclpy reads the bytes as its own (test/ros/test_wire.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bagtypes import VISION_INPUT_TYPES, installed_msg_dir, output_typestore, types_from_dir
from .conversions import ConversionError
from .messages import MessageTypes, rosbags_types

IMAGE = "sensor_msgs/msg/Image"
DETECTIONS = "vision_msgs/msg/Detection2DArray"
AMODAL_MASKS = "sameo_ros/msg/AmodalMaskArray"
FRAME_STATS = "sameo_ros/msg/FrameStats"

def vision_msgs_types(directory: Path | None = None) -> dict[str, Any]:
    """vision_msgs definitions from `directory` or from the installed share/vision_msgs/msg."""
    directory = directory or installed_msg_dir("vision_msgs")
    if directory is None:
        raise FileNotFoundError(
            "vision_msgs is not installed: no share/vision_msgs/msg on AMENT_PREFIX_PATH"
        )
    return types_from_dir(directory, "vision_msgs", VISION_INPUT_TYPES)


class WireCodec:
    """Decodes the node's inputs and encodes its outputs; messages are rosbags dataclasses."""

    def __init__(self, typestore: Any) -> None:
        self.typestore = typestore
        self.types: MessageTypes = rosbags_types(typestore)

    @classmethod
    def from_installed(cls, vision_msgs_dir: Path | None = None) -> WireCodec:
        """Jazzy's standard messages, the installed vision_msgs and sameo_ros' own messages."""
        return cls(output_typestore(vision_msgs_types(vision_msgs_dir)))

    def decode(self, raw: bytes | memoryview, typename: str) -> Any:
        """A message of `typename` from CDR bytes; ConversionError if they do not parse."""
        try:
            return self.typestore.deserialize_cdr(raw, typename)
        except Exception as error:  # rosbags raises struct, index and its own errors
            raise ConversionError("cdr", f"cannot decode {typename}: {error!r}") from error

    def encode(self, msg: Any) -> bytes:
        """CDR bytes of a message built with `self.types`, ready for `Publisher.publish`."""
        return bytes(self.typestore.serialize_cdr(msg, msg.__msgtype__))
