"""sameo_ros.frame_cdr, byte for byte against rosbags (no ROS here; rclpy in test_wire.py)."""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from sameo_ros.conversions import ConversionError, Prompts, detections_to_prompts
from sameo_ros.frame_cdr import decode_detections, decode_image, encode_amodal_mask_array
from sameo_ros.messages import amodal_mask_array, copy_header, rosbags_types
from sameo_ros.pipeline import FrameResult, MaskRecord
from sameo_ros.scene import scene_frame

from .bag_helpers import detections, image, output_store

AMODAL_MASKS = "sameo_ros/msg/AmodalMaskArray"
DETECTIONS = "vision_msgs/msg/Detection2DArray"
NAN = float("nan")


# --- AmodalMaskArray out --------------------------------------------------------------------


def _header(sec: int = 7, nanosec: int = 9, frame_id: str = "camera") -> Any:
    t = output_store().types
    stamp = t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _record(
    mask: np.ndarray | None = None,
    id: str = "cup",
    class_id: str = "mug",
    offset: tuple[int, int] = (-2, 5),
    visible_fraction: float = 0.5,
    detector_score: float = 0.8,
    score: float = 0.6,
    iou: float = 0.75,
    prompt_box: tuple[float, ...] = (0.0, 0.0, 2.0, 2.0),
    amodal_box: tuple[float, ...] = (-2.0, 5.0, 2.0, 8.0),
) -> MaskRecord:
    mask = np.ones((3, 4), bool) if mask is None else mask
    return MaskRecord(
        id=id, class_id=class_id, detector_score=detector_score, score=score, iou=iou,
        prompt_box=np.array(prompt_box, np.float64), amodal_box=np.array(amodal_box, np.float64),
        offset=offset, mask=mask, visible=np.zeros(mask.shape, bool),
        visible_fraction=visible_fraction,
    )  # fmt: skip


def _rosbags_bytes(header: Any, result: FrameResult) -> bytes:
    store = output_store()
    types = rosbags_types(store)
    msg = amodal_mask_array(types, copy_header(types, header), result)
    return bytes(store.serialize_cdr(msg, AMODAL_MASKS))


def _frame(*records: MaskRecord) -> FrameResult:
    return FrameResult(np.zeros((4, 4, 3), np.uint8), list(records))


_CHECKER = np.indices((5, 7)).sum(axis=0) % 2 == 0
_CASES: dict[str, tuple[Any, FrameResult]] = {
    "no records": (_header(), _frame()),
    "no records, empty frame_id": (_header(0, 0, ""), _frame()),
    "one record": (_header(), _frame(_record())),
    "empty ids": (_header(frame_id="ab"), _frame(_record(id="", class_id=""))),
    "odd-length ids": (
        _header(frame_id="abc"),
        _frame(_record(id="a", class_id="bcd"), _record(id="efghi", class_id="jk")),
    ),
    "non-ASCII": (
        _header(frame_id="kamera_ü"),
        _frame(_record(id="tasse_ä", class_id="茶碗"), _record(id="🎉", class_id="é")),
    ),
    "1x1 masks": (
        _header(),
        _frame(_record(np.ones((1, 1), bool)), _record(np.zeros((1, 1), bool), id="x")),
    ),
    "empty-area masks": (
        _header(frame_id="c"),
        _frame(
            _record(np.zeros((0, 5), bool), visible_fraction=NAN),
            _record(np.zeros((3, 0), bool), id="b", visible_fraction=NAN),
            _record(np.zeros((0, 0), bool), id="cc", visible_fraction=NAN),
        ),
    ),
    "odd shapes and layouts": (
        _header(frame_id="de"),
        _frame(
            _record(_CHECKER),  # 35 bytes of data: the next fields need padding
            _record(_CHECKER[:, ::2], id="strided"),
            _record(np.asfortranarray(_CHECKER.T), id="fortran"),
            _record(np.arange(6, dtype=np.uint8).reshape(2, 3), id="uint8 mask"),
        ),
    ),
    "offsets and int32 limits": (
        _header(),
        _frame(
            _record(offset=(-7, -300_000)),
            _record(offset=(2**31 - 1, -(2**31)), id="limits"),
            _record(offset=(np.int64(-3), np.int32(4)), id="numpy ints"),
        ),
    ),
    "special floats": (
        _header(),
        _frame(
            _record(visible_fraction=NAN, score=math.inf, iou=-0.0, detector_score=NAN),
            _record(visible_fraction=1 / 3, score=1e-40, iou=0.1, detector_score=-math.inf),
            _record(prompt_box=(NAN, 1.0, 2.0, NAN), amodal_box=(-1e300, 0.5, 1e300, 0.25)),
        ),
    ),
    "negative stamp": (_header(-1, 999_999_999, "x"), _frame(_record())),
    "int32/uint32 stamp limits": (_header(-(2**31), 2**32 - 1, "xyzw"), _frame(_record())),
    "max int32 sec": (_header(2**31 - 1, 0, "xyzwv"), _frame(_record(), _record(id="2"))),
}
for _n in range(9):  # every alignment of the header string and of the following fields
    _CASES[f"frame_id of {_n} chars"] = (
        _header(frame_id="f" * _n),
        _frame(_record(id="i" * _n), _record(np.ones((1, _n + 1), bool), class_id="c" * _n)),
    )


@pytest.mark.parametrize("case", list(_CASES))
def test_encode_amodal_mask_array_is_the_rosbags_serialization(case: str) -> None:
    header, result = _CASES[case]
    assert encode_amodal_mask_array(header, result) == _rosbags_bytes(header, result)


def test_encode_amodal_mask_array_on_random_frames() -> None:
    rng = np.random.default_rng(11)
    alphabet = list("abcXYZ_0123 ") + ["ä", "€", "語", "🎉"]

    def text() -> str:
        return "".join(rng.choice(alphabet, size=int(rng.integers(0, 10))))

    def number() -> float:
        special = [NAN, math.inf, -math.inf, 0.0, -0.0]
        return float(rng.choice(special)) if rng.random() < 0.1 else float(rng.normal(0, 100))

    for _ in range(40):
        records = [
            _record(
                rng.random((int(rng.integers(0, 9)), int(rng.integers(0, 9)))) < 0.5,
                id=text(),
                class_id=text(),
                offset=(int(rng.integers(-(2**31), 2**31)), int(rng.integers(-500, 500))),
                visible_fraction=number(),
                detector_score=number(),
                score=float(np.float32(number())),
                iou=float(rng.random()),
                prompt_box=tuple(number() for _ in range(4)),
                amodal_box=tuple(number() for _ in range(4)),
            )
            for _ in range(int(rng.integers(0, 6)))
        ]
        header = _header(
            int(rng.integers(-(2**31), 2**31)), int(rng.integers(0, 2**32)), text()
        )
        result = _frame(*records)
        assert encode_amodal_mask_array(header, result) == _rosbags_bytes(header, result)


def test_encode_reads_any_header_by_attribute() -> None:
    """The node passes the header of a decoded input (another class, numpy scalars possible)."""
    stamp = SimpleNamespace(sec=np.int32(-3), nanosec=np.uint32(123))
    foreign = SimpleNamespace(stamp=stamp, frame_id="cam")
    result = _frame(_record(), _record(id="second"))
    expected = _rosbags_bytes(_header(-3, 123, "cam"), result)
    assert encode_amodal_mask_array(foreign, result) == expected


def test_encoded_masks_decode_to_the_records() -> None:
    """Independent of the byte comparison: rosbags reads the records back."""
    mask = np.array([[True, False, True], [False, False, True]])
    result = _frame(_record(mask, id="ä", offset=(-4, 9), visible_fraction=0.25))
    msg = output_store().deserialize_cdr(
        encode_amodal_mask_array(_header(5, 6, "cam"), result), AMODAL_MASKS
    )
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (5, 6, "cam")
    (m,) = msg.masks
    assert (m.id, m.hypothesis.class_id, m.x_offset, m.y_offset) == ("ä", "mug", -4, 9)
    assert (m.mask.height, m.mask.width, m.mask.step, m.mask.encoding) == (2, 3, 3, "mono8")
    np.testing.assert_array_equal(m.mask.data, [255, 0, 255, 0, 0, 255])
    assert m.mask.header.frame_id == "cam" and m.visible_fraction == 0.25
    assert (m.amodal_box.center.position.x, m.amodal_box.size_y) == (0.0, 3.0)


# --- Detection2DArray in --------------------------------------------------------------------

Detection = tuple[tuple[float, float, float, float], list[tuple[str, float]], str]


def _detection_array(
    dets: list[Detection], frame_id: str = "camera", seed: int = 0, det_frame_ids: bool = True
) -> Any:
    """dets: (center x, y, size x, y), [(class_id, score)], id; poses and covariances random,
    so that decoding must skip them by size."""
    t = output_store().types
    rng = np.random.default_rng(seed)

    def hypothesis(class_id: str, score: float) -> Any:
        position = t["geometry_msgs/msg/Point"](*rng.normal(size=3))
        orientation = t["geometry_msgs/msg/Quaternion"](*rng.normal(size=4))
        pose = t["geometry_msgs/msg/Pose"](position=position, orientation=orientation)
        return t["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=t["vision_msgs/msg/ObjectHypothesis"](class_id=class_id, score=score),
            pose=t["geometry_msgs/msg/PoseWithCovariance"](
                pose=pose, covariance=rng.normal(size=36)
            ),
        )

    def detection(k: int, det: Detection) -> Any:
        (cx, cy, sx, sy), hypotheses, det_id = det
        center = t["vision_msgs/msg/Pose2D"](
            position=t["vision_msgs/msg/Point2D"](x=cx, y=cy), theta=float(rng.normal())
        )
        return t["vision_msgs/msg/Detection2D"](
            header=_header(k, k, "d" * k if det_frame_ids else ""),
            results=[hypothesis(c, s) for c, s in hypotheses],
            bbox=t["vision_msgs/msg/BoundingBox2D"](center=center, size_x=sx, size_y=sy),
            id=det_id,
        )

    return t[DETECTIONS](
        header=_header(frame_id=frame_id),
        detections=[detection(k, det) for k, det in enumerate(dets)],
    )


def _assert_prompts_equal(got: Prompts, want: Prompts) -> None:
    np.testing.assert_array_equal(got.boxes, want.boxes)  # NaN where NaN
    assert got.boxes.shape == want.boxes.shape and got.boxes.dtype == want.boxes.dtype
    np.testing.assert_array_equal(got.scores, want.scores)
    assert got.ids == want.ids and got.class_ids == want.class_ids


_DETECTION_CASES: dict[str, list[Detection]] = {
    "none": [],
    "one without hypotheses, empty id": [((10.0, 20.0, 4.0, 6.0), [], "")],
    "one hypothesis": [((1.5, 2.5, 1.0, 3.0), [("cup", 0.7)], "a")],
    "several hypotheses, ties": [
        ((5.0, 5.0, 2.0, 2.0), [("a", 0.2), ("bb", 0.9), ("ccc", 0.9), ("", 0.1)], "d0"),
        ((6.0, 6.0, 2.0, 2.0), [("x", 0.3), ("yy", 0.3)], ""),
        ((7.0, 7.0, 2.0, 2.0), [("", 0.0)], "ünï"),
    ],
    "NaN and infinite boxes": [
        ((NAN, 1.0, 2.0, 2.0), [("a", 0.5)], "nan center"),
        ((1.0, 1.0, math.inf, NAN), [("b", NAN)], "inf size"),
        ((-3.0, -4.0, -2.0, 0.0), [("c", -1.0)], "negative"),
    ],
    "varied string lengths": [
        ((float(k), float(k), 1.0, 1.0), [("c" * j, j / 10) for j in range(k % 4)], "i" * k)
        for k in range(10)
    ],
}


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("case", list(_DETECTION_CASES))
def test_decode_detections_matches_rosbags(case: str, little_endian: bool) -> None:
    store = output_store()
    for frame_id in ("", "cam", "camera_ü"):
        for det_frame_ids in (True, False):
            msg = _detection_array(_DETECTION_CASES[case], frame_id, det_frame_ids=det_frame_ids)
            raw = store.serialize_cdr(msg, DETECTIONS, little_endian=little_endian)
            assert raw[:2] == (b"\x00\x01" if little_endian else b"\x00\x00")
            want = detections_to_prompts(store.deserialize_cdr(raw, DETECTIONS))
            _assert_prompts_equal(decode_detections(raw), want)
            _assert_prompts_equal(decode_detections(bytes(raw)), want)


def test_decode_detections_values() -> None:
    """The decoded fields themselves, not only agreement with the reference path."""
    dets = _DETECTION_CASES["several hypotheses, ties"] + [((10.0, 20.0, 4.0, 6.0), [], "")]
    prompts = decode_detections(output_store().serialize_cdr(_detection_array(dets), DETECTIONS))
    np.testing.assert_array_equal(
        prompts.boxes, [[4, 4, 6, 6], [5, 5, 7, 7], [6, 6, 8, 8], [8, 17, 12, 23]]
    )
    np.testing.assert_array_equal(prompts.scores, [0.9, 0.3, 0.0, 1.0])
    assert prompts.class_ids == ("bb", "x", "", "")
    assert prompts.ids == ("d0", "1", "ünï", "3")
    empty = decode_detections(output_store().serialize_cdr(_detection_array([]), DETECTIONS))
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.scores.shape == (0,)


def test_decode_detections_of_a_scene_frame() -> None:
    frame = scene_frame(5, size=48)
    store = output_store()
    prompts = decode_detections(store.serialize_cdr(detections(store, frame, 42), DETECTIONS))
    np.testing.assert_array_equal(prompts.boxes, frame.boxes)
    np.testing.assert_array_equal(prompts.scores, frame.scores)
    assert prompts.ids == frame.ids and prompts.class_ids == frame.class_ids


def _sample_raw() -> bytes:
    dets = _DETECTION_CASES["several hypotheses, ties"]
    return bytes(output_store().serialize_cdr(_detection_array(dets, "cam"), DETECTIONS))


def _assert_cdr_error(raw: bytes | memoryview) -> None:
    with pytest.raises(ConversionError) as error:
        decode_detections(raw)
    assert error.value.kind == "cdr"


def test_decode_detections_rejects_every_truncation() -> None:
    raw = _sample_raw()
    for cut in range(len(raw)):
        _assert_cdr_error(raw[:cut])
        _assert_cdr_error(memoryview(raw)[:cut])


@pytest.mark.parametrize(
    "head", [b"\x00\x02\x00\x00", b"\x00\x03\x00\x00", b"\x01\x01\x00\x00", b"\xff\xff\xff\xff"]
)
def test_decode_detections_rejects_unknown_encapsulation(head: bytes) -> None:
    _assert_cdr_error(head + _sample_raw()[4:])


def _patched(raw: bytes, offset: int, value: int) -> bytes:
    return raw[:offset] + struct.pack("<I", value) + raw[offset + 4 :]


def test_decode_detections_rejects_huge_counts_and_lengths() -> None:
    raw = _sample_raw()
    # header: stamp 4..12, frame_id "cam" 12..20, detections count 20..24; detection 0: stamp
    # 24..32, frame_id "" 32..37, pad, results count 40..44, class_id "a" 44..50
    assert struct.unpack_from("<4I", raw, 12)[0] == 4 and raw[16:20] == b"cam\x00"
    assert struct.unpack_from("<I", raw, 20)[0] == 3
    assert struct.unpack_from("<I", raw, 32)[0] == 1 and raw[36] == 0
    assert struct.unpack_from("<I", raw, 40)[0] == 4
    assert raw[48:50] == b"a\x00"
    for offset, value in [
        (20, 0xFFFFFFFF), (20, 0x7FFFFFFF), (20, 4), (40, 0xFFFFFFFF), (40, 1 << 20),
        (12, 0xFFFFFFFF), (12, 0), (32, 0), (32, len(raw)), (44, 0xFFFFFFF0), (44, 0),
    ]:  # fmt: skip
        _assert_cdr_error(_patched(raw, offset, value))


def test_decode_detections_survives_random_corruption() -> None:
    """Corrupted bytes give Prompts or ConversionError("cdr"), never another exception; where
    rosbags also reads them, both agree."""
    raw = _sample_raw()
    store = output_store()
    rng = np.random.default_rng(1)
    outcomes = {"prompts": 0, "error": 0, "compared": 0}
    for _ in range(400):
        data = bytearray(raw)
        for position in rng.integers(4, len(raw), size=int(rng.integers(1, 4))):
            data[position] = int(rng.integers(0, 256))
        if rng.random() < 0.2:
            data = data[: int(rng.integers(4, len(data)))]
        try:
            got = decode_detections(bytes(data))
        except ConversionError as error:
            assert error.kind == "cdr"
            outcomes["error"] += 1
            continue
        outcomes["prompts"] += 1
        try:
            msg = store.deserialize_cdr(bytes(data), DETECTIONS)
        except Exception:  # rosbags is stricter about strings (UTF-8) and trailing bytes
            continue
        _assert_prompts_equal(got, detections_to_prompts(msg))
        outcomes["compared"] += 1
    assert min(outcomes.values()) > 50, outcomes


IMAGE = "sensor_msgs/msg/Image"


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize(
    "override",
    [{}, {"encoding": "bgra8", "is_bigendian": 1}, {"height": 0, "width": 0, "step": 0,
                                                     "data": np.zeros(0, np.uint8)}],
)  # fmt: skip
def test_decode_image_matches_rosbags(little_endian: bool, override: dict[str, Any]) -> None:
    store = output_store()
    rgb = np.random.default_rng(2).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    msg = image(store, rgb, 12 * 10**9 + 34, **override)
    raw = bytes(store.serialize_cdr(msg, IMAGE, little_endian=little_endian))
    got = decode_image(raw, rosbags_types(store))
    want = store.deserialize_cdr(raw, IMAGE)
    assert got.header == want.header and got.header.stamp.nanosec == 34
    for name in ("height", "width", "encoding", "is_bigendian", "step"):
        assert getattr(got, name) == getattr(want, name), name
    np.testing.assert_array_equal(got.data, want.data)
    assert not got.data.flags.writeable  # a view of the received bytes, not a copy


def test_decode_image_rejects_every_truncation() -> None:
    store = output_store()
    raw = bytes(store.serialize_cdr(image(store, np.zeros((2, 2, 3), np.uint8), 5), IMAGE))
    types = rosbags_types(store)
    decode_image(raw, types)
    for cut in range(len(raw)):
        with pytest.raises(ConversionError) as error:
            decode_image(raw[:cut], types)
        assert error.value.kind == "cdr"
