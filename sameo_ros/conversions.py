"""Message <-> numpy conversions without cv_bridge and without ROS imports.

The functions read messages by attribute (duck typing), so they take rclpy messages and rosbags
messages alike: an Image needs height, width, encoding, step and data; a Detection2DArray the
vision_msgs 4.x layout (bbox.center.position.x/y, bbox.size_x/size_y, results[].hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# encoding -> (channels, the slice of a pixel's channels that gives R, G, B); mono8 is repeated.
ENCODINGS: dict[str, tuple[int, slice]] = {
    "rgb8": (3, slice(0, 3)),
    "bgr8": (3, slice(2, None, -1)),
    "rgba8": (4, slice(0, 3)),
    "bgra8": (4, slice(2, None, -1)),
    "mono8": (1, slice(0, 1)),
}


class ConversionError(ValueError):
    """A message that cannot be converted; the text says which field is wrong.

    kind: a short name of the problem ("encoding", "empty", "step", "size"), e.g. to throttle logs.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def stamp_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _byte_view(data: Any) -> np.ndarray:
    try:
        return np.frombuffer(data, dtype=np.uint8)  # bytes, array.array('B'), uint8 ndarray
    except (TypeError, ValueError):
        return np.asarray(data, dtype=np.uint8).reshape(-1)  # a plain list of ints


def image_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) -> RGB uint8 [H, W, 3], honours step.

    No copy: the result is a view of the message's buffer (possibly strided or read-only);
    copy it before writing to it.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if msg.encoding not in ENCODINGS:
        raise ConversionError(
            "encoding",
            f"unsupported image encoding {msg.encoding!r}; supported: {sorted(ENCODINGS)}",
        )
    if height == 0 or width == 0:
        raise ConversionError("empty", f"empty image ({width}x{height})")
    channels, rgb = ENCODINGS[msg.encoding]
    if step < width * channels:
        raise ConversionError(
            "step",
            f"step {step} is smaller than width*channels = {width * channels} ({msg.encoding})",
        )
    data = _byte_view(msg.data)
    if data.size != step * height:
        raise ConversionError(
            "size",
            f"image data has {data.size} bytes, expected step*height = {step}*{height} = "
            f"{step * height}",
        )
    pixels = data.reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    if channels == 1:
        return np.broadcast_to(pixels, (height, width, 3))
    return pixels[:, :, rgb]


def mono8_fields(mask: np.ndarray) -> dict[str, Any]:
    """bool or uint8 [h, w] mask -> fields of a mono8 sensor_msgs/Image (0/255, packed rows)."""
    pixels = (
        np.ascontiguousarray(mask).view(np.uint8) * np.uint8(255) if mask.dtype == bool else mask
    )
    height, width = pixels.shape
    return {
        "height": height,
        "width": width,
        "encoding": "mono8",
        "is_bigendian": 0,
        "step": width,
        "data": np.ascontiguousarray(pixels, dtype=np.uint8).reshape(-1),
    }


def rgb8_fields(rgb: np.ndarray) -> dict[str, Any]:
    """uint8 [H, W, 3] RGB -> the fields of an rgb8 sensor_msgs/Image."""
    height, width, _ = rgb.shape
    return {
        "height": height,
        "width": width,
        "encoding": "rgb8",
        "is_bigendian": 0,
        "step": width * 3,
        "data": np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1),
    }


def mono8_to_mask(msg: Any) -> np.ndarray:
    """A mono8 mask Image (any non-zero = inside) -> bool [h, w], honouring `step`."""
    if msg.encoding != "mono8":
        raise ConversionError("encoding", f"mask encoding must be mono8, got {msg.encoding!r}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = _byte_view(msg.data)
    if data.size != step * height or step < width:
        raise ConversionError(
            "size", f"mask data has {data.size} bytes for step {step} x {height} rows"
        )
    return data.reshape(height, step)[:, :width] != 0


@dataclass(frozen=True)
class Prompts:
    """The prompt boxes of one Detection2DArray, in its order."""

    boxes: np.ndarray  # float64 [N, 4] xyxy pixels; non-finite where the message was
    scores: np.ndarray  # float64 [N] best hypothesis score (1.0 without hypotheses)
    ids: tuple[str, ...]  # Detection2D.id, or the index as text when empty
    class_ids: tuple[str, ...]  # class_id of the best hypothesis ('' without one)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class DetectionFields:
    """What SAMEO reads of one vision_msgs/Detection2D."""

    center_size: tuple[float, float, float, float]  # bbox center x, y, size x, y (pixels)
    hypotheses: list[tuple[str, float]]  # (class_id, score) of each result
    id: str


def prompts_from_fields(detections: list[DetectionFields]) -> Prompts:
    """xyxy boxes, best-hypothesis scores and classes (1.0 and '' without one), ids (the index
    as text when empty)."""
    n = len(detections)
    boxes, scores = np.empty((n, 4)), np.ones(n)
    ids, class_ids = [], []
    for i, det in enumerate(detections):
        cx, cy, size_x, size_y = det.center_size
        boxes[i] = (cx - size_x / 2.0, cy - size_y / 2.0, cx + size_x / 2.0, cy + size_y / 2.0)
        best = max(det.hypotheses, key=lambda h: h[1], default=None)
        if best is not None:
            scores[i] = best[1]
        class_ids.append("" if best is None else best[0])
        ids.append(det.id or str(i))
    return Prompts(boxes, scores, tuple(ids), tuple(class_ids))


def detections_to_prompts(msg: Any) -> Prompts:
    """vision_msgs/Detection2DArray (4.x: center + size) -> xyxy pixel boxes and their labels."""
    return prompts_from_fields([
        DetectionFields(
            (float(det.bbox.center.position.x), float(det.bbox.center.position.y),
             float(det.bbox.size_x), float(det.bbox.size_y)),
            [(str(r.hypothesis.class_id), float(r.hypothesis.score)) for r in det.results],
            str(det.id),
        )
        for det in msg.detections
    ])  # fmt: skip


def xyxy_to_center_size(box: np.ndarray) -> tuple[float, float, float, float]:
    """xyxy -> (center x, center y, size x, size y) as in vision_msgs/BoundingBox2D."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0
