"""Raw sensor_msgs/Image encodings -> RGB as cv_bridge converts them (duck-typed messages, no
ROS): every encoding against OpenCV's own conversion of the same bytes with cv_bridge's codes,
and against the known RGB image the bytes were made from (a red patch stays red), with padded
steps and both byte orders; the pixel bound; malformed images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest

from sameo_ros.conversions import (
    DEFAULT_MAX_IMAGE_PIXELS,
    MAX_IMAGE_PIXELS_LIMIT,
    ConversionError,
    check_max_image_pixels,
    image_to_rgb,
    to_rgb,
)
from sameo_ros.harness.camera_encodings import bayer_mosaic
from sameo_ros.image_formats import RAW_ENCODINGS

# A known image of uniform 4x4 patches: red, green, blue, white, grey, dark, yellow, cyan.
PATCHES = np.array([[(230, 20, 20), (20, 210, 30), (25, 30, 220), (240, 240, 240)],
                    [(128, 128, 128), (30, 30, 30), (220, 210, 20), (20, 200, 210)]],
                   np.uint8)  # fmt: skip
RGB = np.repeat(np.repeat(PATCHES, 4, axis=0), 4, axis=1)  # [8, 16, 3]
RED = (slice(1, 3), slice(1, 3))  # inside the red patch, away from its edges
# Interior pixels of every patch: there bilinear demosaicing reproduces the patch exactly.
INTERIOR = np.zeros(RGB.shape[:2], bool)
INTERIOR[1::4, 1::4] = INTERIOR[2::4, 1::4] = INTERIOR[1::4, 2::4] = INTERIOR[2::4, 2::4] = True

# cv_bridge's cvtColor code to rgb8 per Bayer pattern (vision_opencv cv_bridge.cpp,
# getConversionCodes): ROS's top-left-tile names map to OpenCV's names shifted by one pixel.
BAYER = {
    "rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB,
    "gbrg": cv2.COLOR_BayerGR2RGB, "grbg": cv2.COLOR_BayerGB2RGB,
}  # fmt: skip


def _message(rows: np.ndarray, width: int, encoding: str, pad: int, big_endian: bool = False):
    """An Image from its pixel values [H, W*channels] (uint8 or uint16), `pad` bytes of junk
    after each row."""
    height = rows.shape[0]
    if rows.dtype == np.uint16:
        rows = rows.astype(">u2" if big_endian else "<u2").view(np.uint8)
    padded = np.concatenate([rows, np.full((height, pad), 0xA5, np.uint8)], axis=1)
    return NS(height=height, width=width, encoding=encoding, step=padded.shape[1],
              is_bigendian=int(big_endian), data=padded.tobytes())  # fmt: skip


def _yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """4:2:2 bytes [H, W*2] of `rgb` by BT.601 limited range (as OpenCV decodes it), written
    independently of OpenCV; horizontal pixel pairs share the chroma of their mean. order:
    "uyvy" (ROS yuv422) or "yuyv" (yuv422_yuy2)."""
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    u, v = (c.reshape(c.shape[0], -1, 2).mean(axis=2) for c in (u, v))
    planes = {"y0": y[:, 0::2], "y1": y[:, 1::2], "u": u, "v": v}
    names = ("u", "y0", "v", "y1") if order == "uyvy" else ("y0", "u", "y1", "v")
    out = np.stack([planes[n] for n in names], axis=-1).reshape(rgb.shape[0], -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _to16(rgb8: np.ndarray, seed: int = 1) -> np.ndarray:
    """16-bit values whose cv_bridge 8-bit value is `rgb8`: v8 * 257 plus noise in [-128, 128]."""
    noise = np.random.default_rng(seed).integers(-128, 129, rgb8.shape)
    return np.clip(rgb8.astype(np.int64) * 257 + noise, 0, 65535).astype(np.uint16)


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(
    "encoding, order, code",
    [
        ("rgb16", [0, 1, 2], None), ("bgr16", [2, 1, 0], cv2.COLOR_BGR2RGB),
        ("rgba16", [0, 1, 2, 3], cv2.COLOR_RGBA2RGB), ("bgra16", [2, 1, 0, 3], cv2.COLOR_BGRA2RGB),
    ],
)  # fmt: skip
def test_16_bit_colour_is_cv_bridges_result(encoding, order, code, big_endian, pad) -> None:
    rgba = np.dstack([RGB, np.full(RGB.shape[:2], 77, np.uint8)])
    values = _to16(rgba)[:, :, order]
    msg = _message(values.reshape(8, -1), 16, encoding, pad, big_endian)  # odd step with pad 3
    out = image_to_rgb(msg)
    assert out.dtype == np.uint8 and out.shape == (8, 16, 3)
    # cv_bridge: cvtColor to RGB, then convertTo(CV_8U, 255/65535)
    converted = values if code is None else cv2.cvtColor(values, code)
    np.testing.assert_array_equal(out, cv2.convertScaleAbs(converted, alpha=255.0 / 65535.0))
    np.testing.assert_array_equal(out, RGB)  # the noise stays within half a level


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono16_is_scaled_by_cv_bridges_rule_and_repeated(big_endian: bool) -> None:
    values = np.array([[0, 128, 129, 385, 386, 32896, 65406, 65407, 65535, 257]], np.uint16)
    out = image_to_rgb(_message(values, values.shape[1], "mono16", 1, big_endian))
    expected = np.array([[0, 0, 1, 1, 2, 128, 254, 255, 255, 1]], np.uint8)  # round(v / 257)
    np.testing.assert_array_equal(out, np.dstack([expected] * 3))
    every = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    exact = (every.astype(np.int64) * 2 + 257) // 514  # floor(v / 257 + 1/2), never a tie
    np.testing.assert_array_equal(image_to_rgb(_message(every, 256, "mono16", 0))[..., 0], exact)


@pytest.mark.parametrize("pad", [0, 5])
@pytest.mark.parametrize("pattern", sorted(BAYER))
def test_bayer8_is_cv_bridges_result_and_colours_stay_right(pattern: str, pad: int) -> None:
    raw = bayer_mosaic(RGB, pattern)
    out = image_to_rgb(_message(raw, 16, f"bayer_{pattern}8", pad))
    np.testing.assert_array_equal(out, cv2.cvtColor(raw, BAYER[pattern]))
    np.testing.assert_array_equal(out[INTERIOR], RGB[INTERIOR])  # a red patch stays red ...
    assert (out[RED][..., 0] > 200).all() and (out[RED][..., 2] < 40).all()  # ... not blue


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("pattern", sorted(BAYER))
def test_bayer16_is_demosaiced_before_scaling(pattern: str, big_endian: bool) -> None:
    raw = bayer_mosaic(_to16(RGB, seed=2), pattern)
    out = image_to_rgb(_message(raw, 16, f"bayer_{pattern}16", 3, big_endian))
    expected = cv2.convertScaleAbs(cv2.cvtColor(raw, BAYER[pattern]), alpha=255.0 / 65535.0)
    np.testing.assert_array_equal(out, expected)
    assert np.abs(out[INTERIOR].astype(int) - RGB[INTERIOR]).max() <= 1


@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize(
    "encoding, order, code",
    [("yuv422", "uyvy", cv2.COLOR_YUV2RGB_UYVY), ("yuv422_yuy2", "yuyv", cv2.COLOR_YUV2RGB_YUY2)],
)
def test_yuv422_is_cv_bridges_result_and_colours_stay_right(encoding, order, code, pad) -> None:
    raw = _yuv422(RGB, order)
    out = image_to_rgb(_message(raw, 16, encoding, pad))
    np.testing.assert_array_equal(out, cv2.cvtColor(raw.reshape(8, 16, 2), code))
    assert np.abs(out.astype(int) - RGB).max() <= 3  # limited-range rounding only
    assert (out[RED][..., 0] > 220).all() and (out[RED][..., 1:] < 35).all()


def test_8_bit_encodings_keep_giving_views() -> None:
    msg = _message(RGB.reshape(8, -1), 16, "rgb8", 4)
    out = image_to_rgb(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))  # no copy
    np.testing.assert_array_equal(out, RGB)
    assert out.base is not None and not out.flags.writeable


def test_the_readme_lists_every_encoding() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    node_section = readme.split("\n## ROS 2 node")[1].split("\n## ")[0]
    assert [e for e in RAW_ENCODINGS if f"`{e}`" not in node_section] == []


def _image(encoding: str, width: int, height: int, bpp: int) -> NS:
    return NS(height=height, width=width, encoding=encoding, step=width * bpp, is_bigendian=0,
              data=bytes(width * height * bpp))  # fmt: skip


@pytest.mark.parametrize(
    "msg, kind, message",
    [
        (_image("yuv422", 7, 4, 2), "odd_size", "yuv422 image of 7x4: its width must be even"),
        (_image("yuv422_yuy2", 5, 2, 2), "odd_size", "width must be even"),
        (_image("bayer_rggb8", 6, 3, 1), "odd_size", "width and height must be even"),
        (_image("bayer_grbg16", 3, 2, 2), "odd_size", "width and height must be even"),
        (_image("8UC3", 4, 2, 3), "encoding", "cv_bridge refuses to convert it to rgb8"),
        (_image("16UC1", 4, 2, 2), "encoding", "supported: rgb8, bgr8"),
        (_image("nv12", 4, 2, 1), "encoding", "unsupported image encoding 'nv12'"),
        (NS(**{**vars(_image("mono16", 4, 2, 2)), "step": 7}), "step", "step 7 is smaller"),
        (NS(**{**vars(_image("rgb16", 4, 2, 6)), "data": bytes(47)}), "size", "expected step"),
        (_image("bgr8", 0, 5, 3), "empty", "empty image"),
    ],
)
def test_malformed_images_raise_a_clear_error(msg: NS, kind: str, message: str) -> None:
    with pytest.raises(ConversionError, match=message) as caught:
        image_to_rgb(msg)
    assert caught.value.kind == kind


class _UnreadData(NS):
    """An Image whose data must not be read."""

    @property
    def data(self) -> bytes:
        raise AssertionError("the data of a refused image was read")


@pytest.mark.parametrize("encoding", ["rgb8", "mono16", "bayer_rggb8", "yuv422"])
def test_images_above_the_bound_are_refused_before_their_data_is_read(encoding: str) -> None:
    width, height = 30000, 30000
    msg = _UnreadData(height=height, width=width, encoding=encoding, step=width * 6,
                      is_bigendian=0)  # fmt: skip
    with pytest.raises(ConversionError, match="30000x30000 = 900000000 pixels exceeds "
                       f"max_image_pixels = {DEFAULT_MAX_IMAGE_PIXELS}") as caught:  # fmt: skip
        to_rgb(msg)
    assert caught.value.kind == "too_large"


def test_the_bound_is_inclusive_and_configurable() -> None:
    msg = _message(RGB.reshape(8, -1), 16, "rgb8", 0)
    assert image_to_rgb(msg, max_image_pixels=128).shape == (8, 16, 3)  # 8 x 16 = 128
    with pytest.raises(ConversionError, match="16x8 = 128 pixels exceeds max_image_pixels = 127"):
        image_to_rgb(msg, max_image_pixels=127)
    assert DEFAULT_MAX_IMAGE_PIXELS >= 4000 * 3000 and DEFAULT_MAX_IMAGE_PIXELS >= 3840 * 2160


@pytest.mark.parametrize("bad", [0, -1, MAX_IMAGE_PIXELS_LIMIT + 1, 1.5, True, "16"])
def test_a_bad_bound_is_a_value_error(bad) -> None:
    with pytest.raises(ValueError, match="max_image_pixels must be"):
        check_max_image_pixels(bad)
    with pytest.raises(ValueError, match="max_image_pixels must be"):
        to_rgb(_message(RGB.reshape(8, -1), 16, "rgb8", 0), max_image_pixels=bad)
    assert check_max_image_pixels(np.int64(100)) == 100
