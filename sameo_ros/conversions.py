"""Message -> numpy conversions without cv_bridge and without ROS imports (camera images also to
a CUDA tensor: `to_rgb`; the pixel formats themselves are `image_formats.py`'s).

The functions read messages by attribute, so they take rclpy messages (the node) and rosbags
messages (the replay tool) alike: an Image needs height, width, encoding, step and data (and
is_bigendian for 16-bit encodings); a CompressedImage format and data; a Detection2DArray the
vision_msgs 4.x layout (bbox.center.position.x/y, bbox.size_x/size_y, results[].hypothesis);
PointPrompts points[].x/y and labels; a depth Image also is_bigendian; a CameraInfo width,
height, k, p, binning_x/y and roi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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

from .image_formats import (
    RAW_ENCODINGS,
    compressed_kind,
    decode_cpu,
    decode_jpeg_torch,
    raw_to_rgb,
    read_header,
    torch_decodable,
)

POINT_LABELS = (0, 1)  # PointPrompts.labels: 0 = background, 1 = on the object

# The pixel bound (README, "ROS 2 node"): 4096 x 4096 = 16.8 MP takes the largest common robot
# cameras, 4K UHD (3840x2160, 8.3 MP), DCI 4K (4096x2160) and 12-13 MP sensors (4000x3000,
# 4208x3120), with room; the model sees 1024x1024 whatever comes in, so more pixels only cost
# memory and time (BENCHMARKS.md, "Oversized images"). The limit of the bound itself, 2^28 =
# 268 MP, is above any camera a robot carries and below OpenCV's own decoding cap (2^30).
DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096
MAX_IMAGE_PIXELS_LIMIT = 2**28


class ConversionError(ValueError):
    """A message that cannot be converted; the text says which field is wrong.

    kind: a short name of the problem ("encoding", "empty", "step", "size", "odd_size",
    "too_large", "format", "compressed", "points"), e.g. to throttle logs.
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


def check_max_image_pixels(max_image_pixels: int) -> int:
    """The bound itself, validated: an int in [1, MAX_IMAGE_PIXELS_LIMIT] (ValueError)."""
    if isinstance(max_image_pixels, bool) or not isinstance(max_image_pixels, (int, np.integer)):
        raise ValueError(f"max_image_pixels must be an integer, got {max_image_pixels!r}")
    if not 1 <= max_image_pixels <= MAX_IMAGE_PIXELS_LIMIT:
        raise ValueError(
            f"max_image_pixels must be in [1, {MAX_IMAGE_PIXELS_LIMIT}], got {max_image_pixels}"
        )
    return int(max_image_pixels)


def check_image_pixels(width: int, height: int, max_image_pixels: int, what: str) -> None:
    """ConversionError("too_large") when width x height exceeds the bound (checked before any
    pixel is touched or allocated); ValueError for a bad bound."""
    bound = check_max_image_pixels(max_image_pixels)
    if width * height > bound:
        raise ConversionError(
            "too_large",
            f"{what} of {width}x{height} = {width * height} pixels exceeds max_image_pixels = "
            f"{bound}; refused before decoding",
        )


def image_to_rgb(msg: Any, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """sensor_msgs/Image -> RGB uint8 [H, W, 3] as cv_bridge's toCvCopy(msg, "rgb8") gives it,
    for every encoding of `image_formats.RAW_ENCODINGS` (rgb8, bgr8, rgba8, bgra8, mono8, their
    16-bit forms, yuv422 (UYVY), yuv422_yuy2 (YUYV), bayer_{rggb,bggr,gbrg,grbg}{8,16});
    honours step (row padding) and, for 16-bit data, is_bigendian.

    The size is checked against `max_image_pixels` from width and height, before the data is
    read. ConversionError for an unknown encoding, an empty or too large image, a step or data
    size that does not fit, an odd width (YUV 4:2:2) or an odd width or height (Bayer).
    8-bit rgb/bgr/rgba/bgra/mono need no copy: the result is then a view of the message's
    buffer (possibly strided or read-only); copy it before writing to it.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    encoding = RAW_ENCODINGS.get(msg.encoding)
    if encoding is None:
        generic = re.fullmatch(r"(8|16|32|64)[USF]C\d+", str(msg.encoding))
        hint = (" (a generic OpenCV type without colour meaning: cv_bridge refuses to convert "
                "it to rgb8 as well)") if generic else ""  # fmt: skip
        raise ConversionError(
            "encoding",
            f"unsupported image encoding {msg.encoding!r}{hint}; supported: "
            f"{', '.join(RAW_ENCODINGS)}",
        )
    if height <= 0 or width <= 0:
        raise ConversionError("empty", f"empty image ({width}x{height})")
    check_image_pixels(width, height, max_image_pixels, f"{msg.encoding} image")
    if (encoding.even_width and width % 2) or (encoding.even_height and height % 2):
        sides = "width and height" if encoding.even_height else "width"
        raise ConversionError(
            "odd_size", f"{msg.encoding} image of {width}x{height}: its {sides} must be even"
        )
    row_bytes = width * encoding.bytes_per_pixel
    if step < row_bytes:
        raise ConversionError(
            "step", f"step {step} is smaller than width*bytes per pixel = {row_bytes} "
            f"({msg.encoding})",
        )  # fmt: skip
    data = byte_view(msg.data)
    if data.size != step * height:
        raise ConversionError(
            "size",
            f"image data has {data.size} bytes, expected step*height = {step}*{height} = "
            f"{step * height}",
        )
    big_endian = bool(msg.is_bigendian) if encoding.depth > 1 else False
    return raw_to_rgb(data.reshape(height, step), width, encoding, big_endian)


def compressed_to_rgb(
    msg: Any, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS, device: Any = None
) -> Any:
    """sensor_msgs/CompressedImage (PNG or JPEG; grey, colour, alpha, 16-bit PNG, CMYK JPEG)
    -> RGB uint8 [H, W, 3]: a numpy array, or with a CUDA `device` a torch tensor on it.

    The format is told by the bytes themselves (their file signature); `msg.format` only names
    it in errors, since publishers fill it in many ways ("jpeg", "bgr8; jpeg compressed bgr8",
    ...). The size is read from the header (`image_formats.read_header`) and checked against
    `max_image_pixels` before anything is decoded, and the decoded image must have that size.
    On CUDA, 8-bit grey / YCbCr JPEGs are decoded by nvjpeg (torchvision.io.decode_jpeg) and
    stay on the device; anything else is decoded by OpenCV and copied there.
    ConversionError: "format" (neither PNG nor JPEG), "compressed" (a malformed header or
    undecodable data), "too_large".
    """
    data = byte_view(msg.data)
    if compressed_kind(data) is None:
        raise ConversionError(
            "format",
            f"compressed image ({msg.format!r}, {data.size} bytes) is neither jpeg nor png",
        )
    undecodable = f"undecodable {msg.format!r} compressed image ({data.size} bytes)"
    try:
        header = read_header(data)
    except ValueError as error:
        raise ConversionError("compressed", f"{undecodable}: {error}") from None
    check_image_pixels(header.width, header.height, max_image_pixels, f"{header.kind} image")
    rgb: Any = None
    if _is_cuda(device) and torch_decodable(header):
        try:
            rgb = decode_jpeg_torch(data, device)
        except RuntimeError as error:
            raise ConversionError(
                "compressed", f"{undecodable}: torchvision.io.decode_jpeg on {device}: {error}"
            ) from None
    else:
        rgb = decode_cpu(data, header)
    if rgb is None:
        raise ConversionError("compressed", undecodable)
    if tuple(rgb.shape[:2]) != (header.height, header.width):
        raise ConversionError(
            "compressed", f"{undecodable}: decodes to {rgb.shape[1]}x{rgb.shape[0]}, its "
            f"header says {header.width}x{header.height}",
        )  # fmt: skip
    return _to_device(rgb, device)


def to_rgb(msg: Any, max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS, device: Any = None) -> Any:
    """An Image or a CompressedImage as RGB uint8 [H, W, 3], refused (ConversionError
    "too_large") above `max_image_pixels` before any pixel is decoded.

    device: None or a CPU device: a numpy array (possibly a read-only view of the message; see
    image_to_rgb). A CUDA device (str or torch.device): a torch.uint8 tensor [H, W, 3] on it
    (possibly a non-contiguous view of [3, H, W]); JPEGs are decoded there by nvjpeg.
    """
    if is_compressed(msg):
        return compressed_to_rgb(msg, max_image_pixels, device)
    return _to_device(image_to_rgb(msg, max_image_pixels), device)


def _is_cuda(device: Any) -> bool:
    if device is None:
        return False
    import torch  # a device was asked for: torch is the caller's already

    return torch.device(device).type == "cuda"


def _to_device(rgb: Any, device: Any) -> Any:
    """A numpy RGB image copied to a CUDA `device` as a tensor (pinned, non-blocking: the
    predictor's own copy); anything else as it is."""
    if not _is_cuda(device) or not isinstance(rgb, np.ndarray):
        return rgb
    import torch

    from sameo_core.inference.host_syncs import copy_to_device

    return copy_to_device(rgb, torch.device(device))


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
