"""sameo_ros.cdr: plain CDR reading and writing, checked against rosbags' serializer (no ROS)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sameo_ros.cdr import CdrReader, CdrWriter, header_stamp_ns, string_bytes
from sameo_ros.conversions import ConversionError
from sameo_ros.frame_messages import header_at, image_message
from sameo_ros.scene import scene_frame

from .bag_helpers import assert_same_cdr, cdr_padding, detections, output_store

LE, BE = b"\x00\x01\x00\x00", b"\x00\x00\x00\x00"


def test_string_bytes_counts_the_encoded_bytes_and_the_nul() -> None:
    assert string_bytes("") == b"\x01\x00\x00\x00\x00"
    assert string_bytes("cam") == b"\x04\x00\x00\x00cam\x00"
    assert string_bytes("é") == b"\x03\x00\x00\x00\xc3\xa9\x00"


def test_writer_aligns_from_the_end_of_the_encapsulation_header() -> None:
    out = CdrWriter()
    out.values("B", 1, 7)
    out.values("d", 8, 1.5)
    out.raw(np.array([1, 2, 3], np.uint8))
    out.values("I", 4, 9)
    out.raw(string_bytes("hi"), 4)
    out.values("h", 2, -2)
    out.values("q", 8, -3)
    expected = (
        LE
        + b"\x07" + bytes(7) + struct.pack("<d", 1.5)
        + b"\x01\x02\x03" + bytes(1) + struct.pack("<I", 9)
        + b"\x03\x00\x00\x00hi\x00" + bytes(1) + struct.pack("<h", -2)
        + bytes(6) + struct.pack("<q", -3)
    )  # fmt: skip
    assert out.bytes() == expected
    assert out.size == len(expected) - 4


@pytest.mark.parametrize("little_endian", [True, False])
def test_reader_reads_a_rosbags_image(little_endian: bool) -> None:
    store = output_store()
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = image_message(store, rgb, header_at(store, -1_999_999_999, "frame é"))
    raw = store.serialize_cdr(msg, "sensor_msgs/msg/Image", little_endian=little_endian)
    reader = CdrReader(raw)
    assert reader.order == ("<" if little_endian else ">")
    assert reader.values("iI", 4) == (-2, 1)
    assert reader.string() == "frame é"
    assert (reader.uint32(), reader.uint32()) == (2, 3)
    assert reader.string() == "rgb8"
    assert reader.values("B", 1) == (0,)
    assert reader.uint32() == 9
    n = reader.count(1)
    assert n == 18 and bytes(raw[reader.pos : reader.pos + n]) == rgb.tobytes()
    assert reader.pos + n == len(raw)


def test_reader_skips_with_alignment() -> None:
    raw = LE + b"\x05" + bytes(7) + struct.pack("<d", 2.5) + struct.pack("<I", 4)
    reader = CdrReader(memoryview(raw))
    reader.skip(1, 1)
    assert reader.values("d", 8) == (2.5,)
    reader = CdrReader(bytearray(raw))
    reader.skip(1, 1)
    reader.skip(8, 8)
    assert reader.uint32() == 4


@pytest.mark.parametrize(
    ("payload", "read"),
    [
        (struct.pack("<I", 0), CdrReader.string),  # a string has at least its NUL
        (struct.pack("<I", 6) + b"abc\x00", CdrReader.string),  # longer than the message
        (struct.pack("<I", 0xFFFFFFFF) + b"a\x00", CdrReader.string),
        (b"\x01\x02\x03", CdrReader.uint32),
        (b"", CdrReader.uint32),
        (struct.pack("<I", 3) + bytes(5), lambda r: r.count(2)),  # 3 items of >= 2 bytes in 5
        (struct.pack("<I", 0xFFFFFFFF) + bytes(64), lambda r: r.count(1)),
        (bytes(12), lambda r: (r.skip(8, 8), r.values("d", 8))),
    ],
)
def test_reader_rejects_malformed_payloads(payload: bytes, read) -> None:
    with pytest.raises(ConversionError) as error:
        read(CdrReader(LE + payload))
    assert error.value.kind == "cdr"


def test_reader_count_accepts_what_fits() -> None:
    reader = CdrReader(LE + struct.pack("<I", 3) + bytes(6))
    assert reader.count(2) == 3


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize(
    "stamp",
    [0, 1, 1_700_000_000_123_456_789, -1, -5_000_000_000, (2**31 - 1) * 10**9 + 999_999_999],
)
def test_header_stamp_ns_of_serialized_image_and_detections(
    little_endian: bool, stamp: int
) -> None:
    store = output_store()
    image = image_message(store, np.zeros((1, 2, 3), np.uint8), header_at(store, stamp, "c"))
    dets = detections(store, scene_frame(2, size=32), stamp)
    for msg, typename in [
        (image, "sensor_msgs/msg/Image"),
        (dets, "vision_msgs/msg/Detection2DArray"),
    ]:
        raw = store.serialize_cdr(msg, typename, little_endian=little_endian)
        assert header_stamp_ns(raw) == stamp
        assert header_stamp_ns(bytes(raw)) == stamp


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00",
        LE[:3],
        LE,
        LE + bytes(7),  # sec and half of nanosec
        BE + bytes(4),
        b"\x00\x02\x00\x00" + bytes(12),  # PL_CDR_BE
        b"\x00\x03\x00\x00" + bytes(12),  # PL_CDR_LE
        b"\x01\x00\x00\x00" + bytes(12),
        b"\x00\x11\x00\x00" + bytes(12),  # XCDR2 (CDR2_LE)
    ],
)
def test_header_stamp_ns_rejects_short_or_unknown_messages(raw: bytes) -> None:
    with pytest.raises(ConversionError) as error:
        header_stamp_ns(raw)
    assert error.value.kind == "cdr"


def test_padding_map_of_a_rosbags_image() -> None:
    """The test helper that lets rclpy's uninitialized padding through: it must find exactly the
    alignment gaps, and `assert_same_cdr` must still see every other byte."""
    store = output_store()
    msg = image_message(store, np.ones((1, 1, 3), np.uint8), header_at(store, 5, "ab"))
    raw = bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    # stamp 4..12, frame_id 12..19 (len 3 + "ab\0"), pad 19, height 20, width 24, encoding 28..37,
    # is_bigendian 37, pad 38..40, step 40, data length 44, data 48..51
    assert cdr_padding(store, raw, "sensor_msgs/msg/Image") == [19, 38, 39]
    assert len(raw) == 51
    garbage = bytearray(raw)
    garbage[19], garbage[39] = 0xB5, 0x9E
    assert_same_cdr(raw, bytes(garbage), store, "sensor_msgs/msg/Image")
    for data_byte in (4, 18, 20, 37, 40, 50):
        changed = bytearray(raw)
        changed[data_byte] ^= 0xFF
        with pytest.raises(AssertionError):
            assert_same_cdr(raw, bytes(changed), store, "sensor_msgs/msg/Image")
    with pytest.raises(AssertionError):
        assert_same_cdr(raw, raw + b"\x00", store, "sensor_msgs/msg/Image")
