"""Image, CompressedImage, Detection2DArray and point-prompt conversions (duck-typed messages,
no ROS needed)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest

from sameo_core.camera import BAD_INTRINSICS, MALFORMED_DEPTH, UNKNOWN_ENCODING, DepthInputError
from sameo_ros.conversions import (
    ConversionError,
    camera_info_to_intrinsics,
    compressed_to_rgb,
    depth_image_to_metres,
    detections_to_prompts,
    image_to_rgb,
    mono8_to_mask,
    stamp_ns,
    to_rgb,
    xyxy_to_center_size,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0, data_type: type = bytes) -> NS:
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 7, np.uint8)], axis=1)
    data = padded.tobytes() if data_type is bytes else padded.reshape(-1)
    return NS(height=height, width=width, encoding=encoding, step=padded.shape[1], data=data)


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    "encoding, make",
    [
        ("rgb8", lambda p: p),
        ("bgr8", lambda p: p[:, :, ::-1]),
        ("rgba8", lambda p: np.dstack([p, np.full(p.shape[:2], 9, np.uint8)])),
        ("bgra8", lambda p: np.dstack([p[:, :, ::-1], np.full(p.shape[:2], 9, np.uint8)])),
    ],
)
def test_color_encodings_give_rgb_and_honour_step(encoding, make, pad: int) -> None:
    out = image_to_rgb(_image(np.ascontiguousarray(make(RGB)), encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, RGB)


def test_mono8_is_replicated_and_numpy_data_accepted() -> None:
    gray = RGB[:, :, 0].copy()
    out = image_to_rgb(_image(gray, "mono8", pad=1, data_type=np.ndarray))
    np.testing.assert_array_equal(out, np.dstack([gray] * 3))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(encoding="nv21"), "unsupported image encoding 'nv21'"),
        (dict(step=20), "step 20 is smaller than width"),
        (dict(data=b"\0" * 10), r"expected step\*height"),
        (dict(height=0, data=b""), "empty image"),
    ],
)
def test_bad_images_raise_a_clear_error(change: dict, message: str) -> None:
    msg = _image(RGB, "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ConversionError, match=message):
        image_to_rgb(msg)


def _det(cx, cy, w, h, det_id="", hyps=()) -> NS:
    results = [NS(hypothesis=NS(class_id=c, score=s)) for c, s in hyps]
    bbox = NS(center=NS(position=NS(x=cx, y=cy), theta=0.0), size_x=w, size_y=h)
    return NS(bbox=bbox, id=det_id, results=results)


def test_detections_become_xyxy_boxes_with_best_hypothesis() -> None:
    msg = NS(
        detections=[
            _det(10, 20, 4, 6, "cup", [("cup", 0.4), ("mug", 0.9)]),
            _det(float("nan"), 5, 2, 2),
        ]
    )
    prompts = detections_to_prompts(msg)
    np.testing.assert_allclose(prompts.boxes[0], [8, 17, 12, 23])
    assert np.isnan(prompts.boxes[1, 0])  # passed on; the predictor rejects it
    assert prompts.ids == ("cup", "1") and prompts.class_ids == ("mug", "")
    np.testing.assert_allclose(prompts.scores, [0.9, 1.0])
    assert xyxy_to_center_size(prompts.boxes[0]) == (10.0, 20.0, 4.0, 6.0)


def test_mono8_mask_and_stamp() -> None:
    mask = RNG.random((4, 6)) > 0.5
    padded = np.concatenate([mask * np.uint8(255), np.full((4, 2), 9, np.uint8)], axis=1)
    msg = NS(encoding="mono8", height=4, width=6, step=8, data=padded.tobytes())
    np.testing.assert_array_equal(mono8_to_mask(msg), mask)
    assert stamp_ns(NS(sec=3, nanosec=5)) == 3_000_000_005


@pytest.mark.parametrize("fmt, lossless", [("png", True), ("jpeg", False)])
def test_compressed_images_decode_to_rgb(fmt: str, lossless: bool) -> None:
    rgb = np.repeat(np.repeat(RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8), 8, 0), 8, 1)
    ok, data = cv2.imencode(".png" if lossless else ".jpg", rgb[:, :, ::-1])
    msg = NS(format=fmt, data=data.tobytes())
    out = to_rgb(msg)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    if lossless:
        np.testing.assert_array_equal(out, rgb)
    else:
        assert np.abs(out.astype(int) - rgb).mean() < 12  # jpeg is lossy, not scrambled


def test_grey_png_becomes_rgb() -> None:
    grey = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    _, data = cv2.imencode(".png", grey)
    np.testing.assert_array_equal(compressed_to_rgb(NS(format="png", data=data.tobytes())),
                                  np.dstack([grey] * 3))  # fmt: skip


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "neither jpeg nor png"),
        (b"GIF89a" + bytes(20), "neither jpeg nor png"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "undecodable 'png' compressed image"),
        (b"\xff\xd8\xff" + bytes(30), "undecodable 'png' compressed image"),
    ],
)
def test_undecodable_compressed_bytes_raise_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        compressed_to_rgb(NS(format="png", data=data))


def _points(*entries: tuple[list, list]) -> list[NS]:
    return [NS(points=[NS(x=x, y=y) for x, y in pts], labels=labels) for pts, labels in entries]


def test_point_prompts_are_padded_and_follow_subsets() -> None:
    msg = NS(detections=[_det(10, 20, 4, 6, "a"), _det(30, 30, 2, 2, "b")])
    prompts = detections_to_prompts(msg, _points(([(1, 2), (3, 4)], [1, 0]), ([(5, 6)], [1])))
    np.testing.assert_array_equal(prompts.points, [[[1, 2], [3, 4]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(prompts.point_labels, [[1, 0], [1, -1]])
    second = prompts.subset([1])
    assert second.ids == ("b",) and second.points.shape == (1, 2, 2)
    np.testing.assert_array_equal(second.point_labels, [[1, -1]])
    assert detections_to_prompts(msg, _points(([], []), ([], []))).points is None
    assert detections_to_prompts(msg).points is None


@pytest.mark.parametrize(
    "entries, message",
    [
        ((([(1, 2)], [1]),), "1 point prompts for 2 detections"),
        ((([(1, 2)], []), ([], [])), "detection 0: 1 points but 0 labels"),
        ((([(1, 2)], [2]), ([], [])), "labels must be 0 or 1"),
    ],
)
def test_bad_point_prompts_raise_a_clear_error(entries, message: str) -> None:
    msg = NS(detections=[_det(10, 20, 4, 6), _det(30, 30, 2, 2)])
    with pytest.raises(ConversionError, match=message):
        detections_to_prompts(msg, _points(*entries))


def _depth(array: np.ndarray, encoding: str, big_endian: bool = False, pad: int = 0) -> NS:
    height, width = array.shape
    data = array.astype(array.dtype.newbyteorder(">" if big_endian else "<")).view(np.uint8)
    data = np.concatenate([data.reshape(height, -1), np.zeros((height, pad), np.uint8)], 1)
    return NS(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian),
              step=data.shape[1], data=data.tobytes())  # fmt: skip


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("pad", [0, 3])
def test_depth_images_decode_to_metres(big_endian: bool, pad: int) -> None:
    mm = np.array([[0, 1000, 1500], [65535, 2, 800]], np.uint16)
    metres = depth_image_to_metres(_depth(mm, "16UC1", big_endian, pad))
    expected = np.array([[np.nan, 1.0, 1.5], [65.535, 0.002, 0.8]], np.float32)
    np.testing.assert_allclose(metres, expected, rtol=1e-6)
    floats = np.array([[1.25, np.nan, -1.0], [np.inf, 0.0, 3.5]], np.float32)
    metres = depth_image_to_metres(_depth(floats, "32FC1", big_endian, pad))
    np.testing.assert_array_equal(metres, [[1.25, np.nan, np.nan], [np.nan, np.nan, 3.5]])


@pytest.mark.parametrize(
    "msg, reason",
    [
        (_depth(np.ones((2, 2), np.uint8), "mono8"), UNKNOWN_ENCODING),
        (NS(height=2, width=2, encoding="16UC1", is_bigendian=0, step=4, data=bytes(7)),
         MALFORMED_DEPTH),
        (NS(height=2, width=2, encoding="32FC1", is_bigendian=0, step=4, data=bytes(8)),
         MALFORMED_DEPTH),
        (NS(height=0, width=0, encoding="16UC1", is_bigendian=0, step=0, data=b""),
         MALFORMED_DEPTH),
    ],
)
def test_bad_depth_images_raise_with_their_reason(msg: NS, reason: str) -> None:
    with pytest.raises(DepthInputError) as caught:
        depth_image_to_metres(msg)
    assert caught.value.reason == reason


def _info(k=(600.0, 0, 320, 0, 610.0, 240, 0, 0, 1), p=None, width=640, height=480,
          binning=(0, 0), roi=(0, 0, 0, 0)) -> NS:  # fmt: skip
    x, y, w, h = roi
    return NS(k=list(k), p=list(p or [0.0] * 12), width=width, height=height,
              binning_x=binning[0], binning_y=binning[1],
              roi=NS(x_offset=x, y_offset=y, width=w, height=h))  # fmt: skip


def test_camera_info_gives_the_intrinsics_of_the_published_image() -> None:
    cam = camera_info_to_intrinsics(_info())
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height) == (600, 610, 320, 240, 640,
                                                                        480)  # fmt: skip
    p = [500.0, 0, 300, 0, 0, 505.0, 230, 0, 0, 0, 1, 0]
    rectified = camera_info_to_intrinsics(_info(p=p))
    assert (rectified.fx, rectified.fy, rectified.cx, rectified.cy) == (500, 505, 300, 230)  # P
    binned = camera_info_to_intrinsics(_info(binning=(2, 2)))
    assert (binned.fx, binned.cx, binned.width, binned.height) == (300, 159.75, 320, 240)
    assert binned == cam.scaled_to(320, 240)  # binning is a same-aspect resize
    cropped = camera_info_to_intrinsics(_info(roi=(100, 40, 200, 100)))
    assert (cropped.cx, cropped.cy, cropped.width, cropped.height) == (220, 200, 200, 100)


@pytest.mark.parametrize("info", [_info(k=[0.0] * 9), _info(width=0, height=0),
                                  _info(k=[np.nan] * 9)])
def test_missing_or_zero_calibration_is_refused(info: NS) -> None:
    with pytest.raises(DepthInputError) as caught:
        camera_info_to_intrinsics(info)
    assert caught.value.reason == BAD_INTRINSICS
