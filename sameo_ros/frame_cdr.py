"""The node's per-frame messages packed by hand: Image, Detection2DArray in, AmodalMaskArray out.

Why not rosbags (wire.py) for these too: with the demo model a 640x480 frame takes about 50 ms, and
the node must spend under a tenth of that outside the model, DDS included. Decoding 20 detections
into message objects takes rosbags 0.25-0.45 ms, and building and serializing 20 AmodalMask objects
0.4-0.6 ms; reading only the fields SAMEO uses, and writing the mask bytes straight from the
FrameResult, takes about half of that (`python -m sameo_ros.bench_wire`), and right after the
model, with cold caches, every figure is 2-3 times larger. The functions are tested against rosbags
(test/ros/test_frame_cdr.py) and rclpy (test/ros/test_wire.py). Layouts: sensor_msgs/Image,
vision_msgs 4.x and msg/AmodalMaskArray.msg.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cdr import CdrReader, CdrWriter, string_bytes
from .conversions import (
    ConversionError,
    DetectionFields,
    Prompts,
    mono8_fields,
    prompts_from_fields,
    xyxy_to_center_size,
)
from .messages import MessageTypes
from .pipeline import FrameResult, MaskRecord

# geometry_msgs/PoseWithCovariance: Point (3) + Quaternion (4) + covariance (36) float64.
_POSE_WITH_COVARIANCE = 43 * 8
_MIN_DETECTION = 12 + 4 + 40 + 4  # header, results count, bbox, id (fewest bytes each)


def decode_image(raw: bytes | memoryview, types: MessageTypes) -> Any:
    """A serialized sensor_msgs/Image as a `types.image` message whose data is a read-only view
    of `raw` (nothing is copied); ConversionError if malformed."""
    reader = CdrReader(raw)
    sec, nanosec = reader.values("iI", 4)
    header = types.header(stamp=types.time(sec=sec, nanosec=nanosec), frame_id=reader.string())
    height, width = reader.values("II", 4)
    encoding = reader.string()
    (is_bigendian,) = reader.values("B", 1)
    step, size = reader.values("II", 4)
    if size > len(raw) - reader.pos:
        raise ConversionError("cdr", f"image data of {size} bytes does not fit the message")
    data = np.frombuffer(raw, np.uint8, size, reader.pos)
    return types.image(header=header, height=height, width=width, encoding=encoding,
                       is_bigendian=is_bigendian, step=step, data=data)  # fmt: skip


def _skip_header(reader: CdrReader) -> None:
    reader.skip(8, 4)  # stamp
    reader.string()  # frame_id


def _detection(reader: CdrReader) -> DetectionFields:
    _skip_header(reader)
    hypotheses = []
    for _ in range(reader.count(8 + 8 + _POSE_WITH_COVARIANCE)):
        class_id = reader.string()
        (score,) = reader.values("d", 8)
        reader.skip(_POSE_WITH_COVARIANCE, 8)
        hypotheses.append((class_id, score))
    cx, cy, _theta, size_x, size_y = reader.values("5d", 8)
    return DetectionFields((cx, cy, size_x, size_y), hypotheses, reader.string())


def decode_detections(raw: bytes | memoryview) -> Prompts:
    """Prompts of a serialized vision_msgs/Detection2DArray; ConversionError if malformed."""
    reader = CdrReader(raw)
    _skip_header(reader)
    return prompts_from_fields([_detection(reader) for _ in range(reader.count(_MIN_DETECTION))])


def _bbox(xyxy: Any) -> tuple[float, ...]:
    """BoundingBox2D as its float64 fields: center x, y, theta, size x, y."""
    cx, cy, size_x, size_y = xyxy_to_center_size(xyxy)
    return cx, cy, 0.0, size_x, size_y


def _mask(out: CdrWriter, record: MaskRecord, header: bytes) -> None:
    out.raw(string_bytes(record.id), 4)
    out.raw(string_bytes(record.class_id), 4)
    out.values("dff5d5dii", 8, record.detector_score, record.score, record.iou,
               *_bbox(record.prompt_box), *_bbox(record.amodal_box), *record.offset)  # fmt: skip
    image = mono8_fields(record.mask)
    out.raw(header, 4)
    # height, width, encoding (length + "mono8" + NUL), is_bigendian, 1 padding byte, step, and
    # the data's length: a fixed 28-byte layout from a 4-aligned start.
    out.values("II I6s B x II", 4, image["height"], image["width"], 6, b"mono8\0",
               image["is_bigendian"], image["step"], image["data"].size)  # fmt: skip
    out.raw(image["data"])  # join() reads the array's buffer: no copy until then
    out.values("f", 4, record.visible_fraction)


def encode_amodal_mask_array(header: Any, result: FrameResult) -> bytes:
    """Serialized AmodalMaskArray, the bytes of messages.amodal_mask_array(types, header, result);
    `header` is any std_msgs/Header (read by attribute)."""
    header_bytes = b"".join([
        int(header.stamp.sec).to_bytes(4, "little", signed=True),
        int(header.stamp.nanosec).to_bytes(4, "little"),
        string_bytes(str(header.frame_id)),
    ])  # fmt: skip
    out = CdrWriter()
    out.raw(header_bytes)
    out.values("I", 4, len(result.records))
    for record in result.records:
        _mask(out, record, header_bytes)
    return out.bytes()
