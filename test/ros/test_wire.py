"""WireCodec and the hand-packed frame messages against the real ROS 2 serialization (rclpy).

rclpy (Fast CDR) leaves alignment padding uninitialized, so its bytes are compared with ours
everywhere but in the padding (bag_helpers.assert_same_cdr); rclpy's decode checks the values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sameo_ros.bagtypes import VISION_INPUT_TYPES
from sameo_ros.conversions import ConversionError
from sameo_ros.frame_cdr import decode_detections, encode_amodal_mask_array
from sameo_ros.frame_messages import detections_message, header_at, image_message
from sameo_ros.messages import amodal_mask_array, copy_header
from sameo_ros.pipeline import FrameResult, MaskRecord
from sameo_ros.scene import scene_frame
from sameo_ros.wire import (
    AMODAL_MASKS,
    DETECTIONS,
    FRAME_STATS,
    IMAGE,
    WireCodec,
    vision_msgs_types,
)

from .bag_helpers import VISION_MSGS, assert_same_cdr, output_store

# --- without ROS ----------------------------------------------------------------------------


def test_vision_msgs_types_from_a_directory() -> None:
    types = vision_msgs_types(VISION_MSGS)
    assert {f"vision_msgs/msg/{name}" for name in VISION_INPUT_TYPES} <= set(types)


def test_from_installed_needs_vision_msgs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMENT_PREFIX_PATH", "")
    with pytest.raises(FileNotFoundError, match="vision_msgs is not installed"):
        WireCodec.from_installed()


def test_codec_round_trip_and_malformed_input() -> None:
    codec = WireCodec(output_store())
    frame = scene_frame(3, size=32)
    image = image_message(codec.typestore, frame.rgb, header_at(codec.typestore, 5, "cam"))
    raw = codec.encode(image)
    assert isinstance(raw, bytes) and raw[:4] == b"\x00\x01\x00\x00"
    back = codec.decode(raw, IMAGE)
    assert (back.header.stamp.nanosec, back.header.frame_id, back.encoding) == (5, "cam", "rgb8")
    assert bytes(back.data) == frame.rgb.tobytes()
    for bad in (b"", b"\x00\x01\x00\x00", raw[:-1], b"\x00\x02" + raw[2:], raw[:40]):
        with pytest.raises(ConversionError) as error:
            codec.decode(bad, IMAGE)
        assert error.value.kind == "cdr"


# --- with the built workspace ---------------------------------------------------------------


def _record(
    mask: np.ndarray, id: str, class_id: str, offset: tuple[int, int], visible_fraction: float
) -> MaskRecord:
    return MaskRecord(
        id=id, class_id=class_id, detector_score=0.875, score=0.5, iou=0.75,
        prompt_box=np.array([1.0, 2.0, 5.0, 4.0]), amodal_box=np.array([-3.0, 0.5, 6.0, 9.5]),
        offset=offset, mask=mask, visible=mask.copy(), visible_fraction=visible_fraction,
    )  # fmt: skip


def _rclpy_amodal_masks(header: Any, result: FrameResult) -> Any:
    """AmodalMaskArray built field by field with rclpy's generated classes."""
    from sameo_ros.msg import AmodalMask, AmodalMaskArray
    from sensor_msgs.msg import Image
    from vision_msgs.msg import BoundingBox2D, ObjectHypothesis, Point2D, Pose2D

    def bbox(box: np.ndarray) -> Any:
        x0, y0, x1, y1 = (float(v) for v in box)
        center = Pose2D(position=Point2D(x=(x0 + x1) / 2, y=(y0 + y1) / 2), theta=0.0)
        return BoundingBox2D(center=center, size_x=x1 - x0, size_y=y1 - y0)

    masks = []
    for r in result.records:
        height, width = r.mask.shape
        pixels = np.where(r.mask, 255, 0).astype(np.uint8).tobytes()
        image = Image(
            header=header, height=height, width=width, encoding="mono8", is_bigendian=0,
            step=width, data=pixels,
        )  # fmt: skip
        masks.append(
            AmodalMask(
                id=r.id,
                hypothesis=ObjectHypothesis(class_id=r.class_id, score=r.detector_score),
                score=r.score,
                predicted_iou=r.iou,
                prompt_box=bbox(r.prompt_box),
                amodal_box=bbox(r.amodal_box),
                x_offset=r.offset[0],
                y_offset=r.offset[1],
                mask=image,
                visible_fraction=r.visible_fraction,
            )
        )
    return AmodalMaskArray(header=header, masks=masks)


def _rclpy_header(sec: int, nanosec: int, frame_id: str) -> Any:
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def test_encode_amodal_mask_array_is_rclpys_serialization(ros_env) -> None:
    from rclpy.serialization import deserialize_message, serialize_message
    from sameo_ros.msg import AmodalMaskArray

    checker = np.indices((3, 5)).sum(axis=0) % 2 == 0  # 15 data bytes: padding follows
    frames = {
        "empty": (_rclpy_header(0, 0, ""), []),
        "small": (
            _rclpy_header(-3, 999_999_999, "kamera_ü"),
            [
                _record(checker, "a", "mug", (-7, 12), 0.25),
                _record(np.ones((1, 1), bool), "", "", (0, -(2**31)), 1.0),
                _record(np.zeros((0, 4), bool), "tasse_ä", "茶碗", (2**31 - 1, 3), 0.0),
                _record(np.ones((2, 2), bool), "abcd", "e", (1, 1), 0.5),
            ],
        ),
    }
    for header, records in frames.values():
        result = FrameResult(np.zeros((8, 8, 3), np.uint8), records)
        msg = _rclpy_amodal_masks(header, result)
        ours = encode_amodal_mask_array(header, result)  # an rclpy header, read by attribute
        assert_same_cdr(ours, serialize_message(msg), output_store(), AMODAL_MASKS)
        assert deserialize_message(ours, AmodalMaskArray) == msg

    header = _rclpy_header(1, 2, "c")
    nan_record = _record(checker, "n", "", (0, 0), math.nan)
    result = FrameResult(np.zeros((1, 1, 3), np.uint8), [nan_record])
    ours = encode_amodal_mask_array(header, result)
    msg = _rclpy_amodal_masks(header, result)
    assert_same_cdr(ours, serialize_message(msg), output_store(), AMODAL_MASKS)
    assert math.isnan(deserialize_message(ours, AmodalMaskArray).masks[0].visible_fraction)


def test_codec_image_is_rclpys_serialization(ros_env) -> None:
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    codec = WireCodec.from_installed()
    frame = scene_frame(4, size=33)  # 33*3 bytes a row: the data's length is odd
    stamp = 1_700_000_000_123_456_789
    header = header_at(codec.typestore, stamp)
    raw = codec.encode(image_message(codec.typestore, frame.rgb, header))
    back = deserialize_message(raw, Image)
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (1_700_000_000, 123_456_789)
    assert (back.header.frame_id, back.encoding, back.is_bigendian) == ("camera", "rgb8", 0)
    assert (back.height, back.width, back.step) == (33, 33, 99)
    assert bytes(back.data) == frame.rgb.tobytes()
    again = serialize_message(back)
    assert_same_cdr(raw, again, codec.typestore, IMAGE)
    decoded = codec.decode(again, IMAGE)  # rclpy's bytes, padding and all
    assert decoded.header.frame_id == "camera" and bytes(decoded.data) == frame.rgb.tobytes()


def test_codec_detections_are_rclpys_serialization(ros_env) -> None:
    from rclpy.serialization import deserialize_message, serialize_message
    from vision_msgs.msg import Detection2DArray

    codec = WireCodec.from_installed()
    frame = scene_frame(6, size=48, detections=7)
    header = header_at(codec.typestore, 3_000_000_005, "cam_left")
    raw = codec.encode(detections_message(codec.typestore, frame, header))
    back = deserialize_message(raw, Detection2DArray)
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (3, 5)
    assert back.header.frame_id == "cam_left" and len(back.detections) == 7
    for det, box, det_id, class_id, score in zip(
        back.detections, frame.boxes, frame.ids, frame.class_ids, frame.scores
    ):
        x0, y0, x1, y1 = box
        assert det.id == det_id and det.header.frame_id == "cam_left"
        assert (det.bbox.center.position.x, det.bbox.center.position.y) == (
            (x0 + x1) / 2,
            (y0 + y1) / 2,
        )
        assert (det.bbox.size_x, det.bbox.size_y) == (x1 - x0, y1 - y0)
        (result,) = det.results
        assert (result.hypothesis.class_id, result.hypothesis.score) == (class_id, score)
        assert result.pose.pose.orientation.w == 1.0 and not any(result.pose.covariance)
    again = serialize_message(back)
    assert_same_cdr(raw, again, codec.typestore, DETECTIONS)
    prompts = decode_detections(again)  # the hand decoder on rclpy's bytes
    np.testing.assert_array_equal(prompts.boxes, frame.boxes)
    np.testing.assert_array_equal(prompts.scores, frame.scores)
    assert prompts.ids == frame.ids and prompts.class_ids == frame.class_ids


def test_codec_frame_stats_are_rclpys_serialization(ros_env) -> None:
    from rclpy.serialization import deserialize_message, serialize_message
    from sameo_ros.msg import FrameStats

    codec = WireCodec.from_installed()
    floats = {
        "queue_ms": 0.5, "convert_ms": 1.25, "model_ms": 50.0, "build_ms": 0.125,
        "publish_ms": 0.0625, "debug_ms": 0.0, "total_ms": 52.5, "fps": 19.5,
        "total_ms_p50": 51.0, "total_ms_p99": 60.25,
    }  # fmt: skip
    counts = {
        "frames_processed": 2**32 - 1, "pairs_dropped": 3, "detections_unpaired": 0, "masks": 7,
    }  # fmt: skip
    header = copy_header(codec.types, _rclpy_header(-1, 5, "cam"))
    raw = codec.encode(codec.types.frame_stats(header=header, **floats, **counts))
    back = deserialize_message(raw, FrameStats)
    assert (back.header.stamp.sec, back.header.stamp.nanosec, back.header.frame_id) == (
        -1,
        5,
        "cam",
    )
    assert {name: getattr(back, name) for name in {**floats, **counts}} == {**floats, **counts}
    assert_same_cdr(raw, serialize_message(back), codec.typestore, FRAME_STATS)


def test_codec_amodal_masks_equal_the_hand_packed_bytes(ros_env) -> None:
    from rclpy.serialization import deserialize_message
    from sameo_ros.msg import AmodalMaskArray

    codec = WireCodec.from_installed()
    mask = np.indices((3, 7)).sum(axis=0) % 3 == 0
    result = FrameResult(
        np.zeros((4, 4, 3), np.uint8),
        [_record(mask, "x", "yy", (-1, 2), 0.5), _record(mask[:1], "zzz", "", (3, -4), 1.0)],
    )
    source = _rclpy_header(12, 34, "camera")
    raw = codec.encode(amodal_mask_array(codec.types, copy_header(codec.types, source), result))
    assert raw == encode_amodal_mask_array(source, result)
    back = deserialize_message(raw, AmodalMaskArray)
    assert [(m.id, m.hypothesis.class_id, m.x_offset, m.y_offset) for m in back.masks] == [
        ("x", "yy", -1, 2),
        ("zzz", "", 3, -4),
    ]
    assert back.masks[0].mask.width == 7 and back.masks[1].mask.height == 1
    pixels = np.frombuffer(bytes(back.masks[0].mask.data), np.uint8).reshape(3, 7)
    np.testing.assert_array_equal(pixels, np.where(mask, 255, 0))
