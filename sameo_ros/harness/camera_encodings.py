"""An RGB image as camera drivers publish it: a sensor_msgs/Image in any encoding the node takes
(`image_formats.RAW_ENCODINGS`), for the node tests over DDS and the benchmarks.

8-bit colour and mono: the channels in the encoding's order (mono: ITU-R BT.601 luma, as
OpenCV's RGB2GRAY). 16-bit: each 8-bit value v as v * 257, so cv_bridge's 16 -> 8-bit rule gives v
back. YUV 4:2:2: OpenCV's own BT.601 encoder (RGB -> I420, chroma of 2x2 blocks) with each chroma
row used for both of its image rows, packed as UYVY (`yuv422`) or YUYV (`yuv422_yuy2`). Bayer:
each pixel keeps the channel its position in the 2x2 tile names (`bayer_rggb8`: R G / G B).
Width and height must be even for YUV and Bayer.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from sameo_ros.image_formats import RAW_ENCODINGS
from sameo_ros.messages import MessageTypes, image

_ORDER = {"rgb": "rgb", "bgr": "bgr", "rgba": "rgba", "bgra": "bgra", "mono": "m"}


def _yuv422(rgb: np.ndarray, order: tuple[str, ...]) -> np.ndarray:
    """[H, W, 2] bytes of 4:2:2 YUV, pixel pairs laid out in `order` (e.g. u y0 v y1)."""
    height, width = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).reshape(-1)
    luma, chroma = i420[: height * width].reshape(height, width), i420[height * width :]
    quarter = height * width // 4
    u, v = (plane.reshape(height // 2, width // 2).repeat(2, axis=0)
            for plane in (chroma[:quarter], chroma[quarter:]))  # fmt: skip
    planes = {"y0": luma[:, 0::2], "y1": luma[:, 1::2], "u": u, "v": v}
    return np.stack([planes[name] for name in order], axis=-1).reshape(height, width, 2)


def bayer_mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """The Bayer sensor image of `rgb` ([H, W, 3] -> [H, W], same dtype): each pixel keeps the
    channel its 2x2 tile position names, `pattern` (e.g. "rggb") read row by row from the
    tile's top-left pixel (REP / sensor_msgs)."""
    mosaic = np.empty(rgb.shape[:2], rgb.dtype)
    for k, colour in enumerate(pattern):
        dy, dx = divmod(k, 2)
        mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, "rgb".index(colour)]
    return mosaic


def camera_pixels(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """The pixel array of `rgb` (uint8 [H, W, 3]) in `encoding`: uint8 or uint16, [H, W] or
    [H, W, C]."""
    if encoding not in RAW_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(RAW_ENCODINGS)}")
    if encoding == "yuv422":
        return _yuv422(rgb, ("u", "y0", "v", "y1"))
    if encoding == "yuv422_yuy2":
        return _yuv422(rgb, ("y0", "u", "y1", "v"))
    name, bits = encoding.rstrip("0123456789"), encoding[len(encoding.rstrip("0123456789")):]
    if name.startswith("bayer_"):
        pixels = bayer_mosaic(rgb, name[len("bayer_"):])
    elif name == "mono":
        pixels = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    else:
        alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
        channels = {"r": rgb[..., 0:1], "g": rgb[..., 1:2], "b": rgb[..., 2:3], "a": alpha}
        pixels = np.concatenate([channels[c] for c in _ORDER[name]], axis=-1)
    return pixels.astype(np.uint16) * np.uint16(257) if bits == "16" else pixels


def camera_image(types: MessageTypes, rgb: np.ndarray, header: Any, encoding: str) -> Any:
    """sensor_msgs/Image of `rgb` in `encoding` (little-endian, rows packed)."""
    return image(types, header, camera_pixels(rgb, encoding), encoding)
