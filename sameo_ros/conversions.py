"""Message -> numpy conversions without cv_bridge and without ROS imports.

The functions read messages by attribute, so they take rclpy messages (the node) and rosbags
messages (the replay tool) alike: an Image needs height, width, encoding, step and data; a
CompressedImage format and data; a Detection2DArray the vision_msgs 4.x layout
(bbox.center.position.x/y, bbox.size_x/size_y, results[].hypothesis); PointPrompts points[].x/y
and labels; a depth Image also is_bigendian; a CameraInfo width, height, k, p, binning_x/y and
roi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sameo_core.camera import (
    BAD_INTRINSICS,
    DEPTH_ENCODINGS,
    MALFORMED_DEPTH,
    UNKNOWN_ENCODING,
    DepthInputError,
    PinholeIntrinsics,
    depth_to_metres,
)

# encoding -> (channels, the slice of a pixel's channels that gives R, G, B); mono8 is repeated.
ENCODINGS: dict[str, tuple[int, slice]] = {
    "rgb8": (3, slice(0, 3)),
    "bgr8": (3, slice(2, None, -1)),
    "rgba8": (4, slice(0, 3)),
    "bgra8": (4, slice(2, None, -1)),
    "mono8": (1, slice(0, 1)),
}
# File signatures of the compressed formats the node accepts (sensor_msgs/CompressedImage).
COMPRESSED_SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
POINT_LABELS = (0, 1)  # PointPrompts.labels: 0 = background, 1 = on the object


class ConversionError(ValueError):
    """A message that cannot be converted; the text says which field is wrong.

    kind: a short name of the problem ("encoding", "empty", "step", "size", "format",
    "compressed", "points"), e.g. to throttle logs.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def stamp_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def byte_view(data: Any) -> np.ndarray:
    """uint8 [n] view of a message's uint8[] field (bytes, array.array('B'), ndarray or list)."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        return np.asarray(data, dtype=np.uint8).reshape(-1)  # a plain list of ints


def is_compressed(msg: Any) -> bool:
    """True for a sensor_msgs/CompressedImage (it has `format`), False for an Image."""
    return hasattr(msg, "format")


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
    data = byte_view(msg.data)
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


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg or png, colour or grey) -> RGB uint8 [H, W, 3].

    The format is told by the bytes themselves (their file signature); `msg.format` only
    names it in errors, since publishers fill it in many ways ("jpeg", "bgr8; jpeg compressed
    bgr8", ...).
    """
    data = byte_view(msg.data)
    head = data[:8].tobytes()
    if not any(head.startswith(sig) for sig in COMPRESSED_SIGNATURES.values()):
        raise ConversionError(
            "format",
            f"compressed image ({msg.format!r}, {data.size} bytes) is neither jpeg nor png",
        )
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ConversionError(
            "compressed", f"undecodable {msg.format!r} compressed image ({data.size} bytes)"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_rgb(msg: Any) -> np.ndarray:
    """An Image or a CompressedImage as RGB uint8 [H, W, 3]."""
    return compressed_to_rgb(msg) if is_compressed(msg) else image_to_rgb(msg)


def mono8_to_mask(msg: Any) -> np.ndarray:
    """A mono8 mask Image (any non-zero = inside) -> bool [h, w], honouring `step`."""
    if msg.encoding != "mono8":
        raise ConversionError("encoding", f"mask encoding must be mono8, got {msg.encoding!r}")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = byte_view(msg.data)
    if data.size != step * height or step < width:
        raise ConversionError(
            "size", f"mask data has {data.size} bytes for step {step} x {height} rows"
        )
    return data.reshape(height, step)[:, :width] != 0


DEPTH_DTYPES = {"16UC1": "u2", "32FC1": "f4"}  # REP 118; the byte order is is_bigendian's


def depth_image_to_metres(msg: Any) -> np.ndarray:
    """A depth sensor_msgs/Image, 16UC1 (millimetres, 0 = no reading) or 32FC1 (metres, NaN /
    inf / 0 = no reading), as float32 [H, W] metres with NaN for no reading; honours step and
    is_bigendian. DepthInputError (UNKNOWN_ENCODING, MALFORMED_DEPTH) for anything else."""
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise DepthInputError(
            UNKNOWN_ENCODING, f"{encoding!r}; depth must be one of {', '.join(DEPTH_ENCODINGS)}"
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    dtype = np.dtype((">" if msg.is_bigendian else "<") + DEPTH_DTYPES[encoding])
    data = byte_view(msg.data)
    if min(height, width) == 0 or step < width * dtype.itemsize or data.size != step * height:
        raise DepthInputError(
            MALFORMED_DEPTH, f"{width}x{height} {encoding} image with step {step} and "
            f"{data.size} bytes (expected step >= {width * dtype.itemsize} and step*height bytes)"
        )  # fmt: skip
    rows = np.ascontiguousarray(data.reshape(height, step)[:, : width * dtype.itemsize])
    return depth_to_metres(rows.view(dtype), encoding)


def camera_info_to_intrinsics(msg: Any) -> PinholeIntrinsics:
    """The pinhole intrinsics of the image a sensor_msgs/CameraInfo describes.

    The camera matrix is the left 3x3 block of P (the rectified image's, which is what sameo
    works on; README, "3D from depth"), or K when P is all zeros (drivers that fill only K).
    Binning and a region of interest give the image actually published: the roi is cut from the
    calibrated width x height, then binned. DepthInputError(BAD_INTRINSICS) for a missing (zero)
    calibration or size.
    """
    p = np.asarray(msg.p, dtype=np.float64)
    k = np.asarray(msg.k, dtype=np.float64)
    if p.size == 12 and p.any():
        matrix = p.reshape(3, 4)[:, :3]
    else:
        matrix = k
    if int(msg.width) == 0 or int(msg.height) == 0:
        raise DepthInputError(BAD_INTRINSICS, "CameraInfo has width or height 0 (not calibrated)")
    full = PinholeIntrinsics.from_matrix(matrix, int(msg.width), int(msg.height))
    bx, by = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    roi = msg.roi
    x0, y0 = int(roi.x_offset), int(roi.y_offset)
    roi_w, roi_h = int(roi.width) or full.width, int(roi.height) or full.height
    if (bx, by, x0, y0, roi_w, roi_h) == (1, 1, 0, 0, full.width, full.height):
        return full
    # Pixel edges stay aligned (PinholeIntrinsics.scaled_to): u' + 1/2 = (u - x0 + 1/2) / bx.
    return PinholeIntrinsics(
        full.fx / bx, full.fy / by, (full.cx - x0 + 0.5) / bx - 0.5,
        (full.cy - y0 + 0.5) / by - 0.5, roi_w // bx, roi_h // by,
    )  # fmt: skip


@dataclass(frozen=True)
class Prompts:
    """The prompts of one Detection2DArray, in its order.

    points / point_labels: optional clicks per detection, [N, P, 2] pixels and [N, P] labels
    (1 object, 0 background, -1 padding for detections with fewer than P points).
    """

    boxes: np.ndarray  # float64 [N, 4] xyxy pixels; non-finite where the message was
    scores: np.ndarray  # float64 [N] best hypothesis score (1.0 without hypotheses)
    ids: tuple[str, ...]  # Detection2D.id, or the index as text when empty
    class_ids: tuple[str, ...]  # class_id of the best hypothesis ('' without one)
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: list[int]) -> Prompts:
        """The prompts at `indices`, in that order."""
        pick = np.asarray(indices, dtype=np.intp)
        return Prompts(
            self.boxes[pick], self.scores[pick], tuple(self.ids[i] for i in indices),
            tuple(self.class_ids[i] for i in indices),
            None if self.points is None else self.points[pick],
            None if self.point_labels is None else self.point_labels[pick],
        )  # fmt: skip


def detections_to_prompts(msg: Any, point_prompts: Any = ()) -> Prompts:
    """vision_msgs/Detection2DArray (4.x: center + size) -> xyxy pixel boxes, their best
    hypothesis (score 1.0 and class '' without one) and ids (the index as text when empty).

    point_prompts: empty, or one sameo_ros/PointPrompts per detection, in the same order.
    """
    detections = list(msg.detections)
    n = len(detections)
    boxes, scores = np.empty((n, 4)), np.ones(n)
    ids, class_ids = [], []
    for i, det in enumerate(detections):
        cx, cy = float(det.bbox.center.position.x), float(det.bbox.center.position.y)
        half_x, half_y = float(det.bbox.size_x) / 2.0, float(det.bbox.size_y) / 2.0
        boxes[i] = (cx - half_x, cy - half_y, cx + half_x, cy + half_y)
        hypotheses = [(str(r.hypothesis.class_id), float(r.hypothesis.score)) for r in det.results]
        best = max(hypotheses, key=lambda h: h[1], default=None)
        if best is not None:
            scores[i] = best[1]
        class_ids.append("" if best is None else best[0])
        ids.append(str(det.id) or str(i))
    points, labels = points_to_arrays(point_prompts, n)
    return Prompts(boxes, scores, tuple(ids), tuple(class_ids), points, labels)


def points_to_arrays(point_prompts: Any, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """PointPrompts[] (empty, or one per detection) -> [N, P, 2] points, [N, P] labels padded
    with -1 (ignored by the predictor); (None, None) without points."""
    entries = list(point_prompts)
    if not entries or all(len(e.points) == 0 for e in entries):
        return None, None
    if len(entries) != n:
        raise ConversionError(
            "points", f"{len(entries)} point prompts for {n} detections (give none or one each)"
        )
    most = max(len(e.points) for e in entries)
    points, labels = np.zeros((n, most, 2)), np.full((n, most), -1.0)
    for i, entry in enumerate(entries):
        given = [int(v) for v in entry.labels]
        if len(given) != len(entry.points):
            raise ConversionError(
                "points", f"detection {i}: {len(entry.points)} points but {len(given)} labels"
            )
        if any(v not in POINT_LABELS for v in given):
            raise ConversionError("points", f"detection {i}: labels must be 0 or 1, got {given}")
        for k, point in enumerate(entry.points):
            points[i, k] = (float(point.x), float(point.y))
        labels[i, : len(given)] = given
    return points, labels


def xyxy_to_center_size(box: np.ndarray) -> tuple[float, float, float, float]:
    """xyxy -> (center x, center y, size x, size y) as in vision_msgs/BoundingBox2D."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0
