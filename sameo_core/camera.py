"""The pinhole camera and its depth images: intrinsics, pixel rays, image-size scaling, and the
two ROS depth encodings.

Conventions (those of OpenCV and of ROS `sensor_msgs/CameraInfo`): the camera frame is the
optical frame, x right, y down, z forward, in metres. A pixel's integer coordinates (u = column,
v = row) are its centre and it covers [u - 1/2, u + 1/2] x [v - 1/2, v + 1/2], so pixel (u, v) at
depth z is the point ((u - cx) z / fx, (v - cy) z / fy, z). Images must be rectified: lens
distortion is not modelled (use the `image_rect` topics; for them ROS gives the intrinsics in
CameraInfo.p, whose left 3x3 block is passed like K).

A depth image of another size than the colour image is accepted only when it is the same view
resized with the same aspect ratio (`matching_scale`); both the intrinsics and the depth are then
brought to the colour image's pixel grid by one rule (`PinholeIntrinsics.scaled_to`,
`resample_depth`). Every refusal raises `DepthInputError`, whose `reason` is one of the constants
below (a fixed string, for throttled logging) and whose message adds the details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Reasons of `DepthInputError` (fixed strings: a node logs them throttled by reason).
BAD_INTRINSICS = "missing or invalid camera intrinsics"
UNKNOWN_ENCODING = "unknown depth encoding"
MALFORMED_DEPTH = "malformed depth image"
SIZE_MISMATCH = "image size mismatch that is not a same-aspect resize"

# REP 118 (ROS depth images): 16-bit unsigned millimetres with 0 = no reading, or 32-bit float
# metres with 0 / NaN / inf = no reading.
DEPTH_ENCODINGS: tuple[str, ...] = ("16UC1", "32FC1")
_MM_PER_M = 1000.0
_MAX_16UC1_MM = 65535


class DepthInputError(ValueError):
    """A depth frame that cannot give 3D: `reason` is one of this module's reason constants (or
    `depth_lifting.DEPTH_ALL_INVALID`), the message adds what exactly is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PinholeIntrinsics:
    """Focal lengths and principal point in pixels, for images of `width` x `height` pixels.

    Construction validates: finite values, fx > 0 and fy > 0 (a zero focal length is what a
    CameraInfo of an uncalibrated camera carries), and a size of at least 1 x 1.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        try:  # numpy scalars and ints become plain floats / ints (hashable, printable)
            values = tuple(float(v) for v in (self.fx, self.fy, self.cx, self.cy))
            size = (int(self.width), int(self.height))
        except (TypeError, ValueError) as error:
            raise DepthInputError(BAD_INTRINSICS, f"not numbers: {error}") from None
        if size != (self.width, self.height) or min(size) < 1:
            raise DepthInputError(
                BAD_INTRINSICS, f"image size must be positive integers, got "
                f"{self.width}x{self.height} (width x height)"
            )  # fmt: skip
        if not all(math.isfinite(v) for v in values):
            raise DepthInputError(BAD_INTRINSICS, f"non-finite fx, fy, cx, cy = {values}")
        if values[0] <= 0 or values[1] <= 0:
            raise DepthInputError(
                BAD_INTRINSICS, f"focal lengths must be > 0, got fx={values[0]}, fy={values[1]}"
                + (" (all zero: the camera is not calibrated)" if not any(values) else "")
            )  # fmt: skip
        for name, value in zip(("fx", "fy", "cx", "cy", "width", "height"), values + size):
            object.__setattr__(self, name, value)

    @classmethod
    def from_matrix(cls, k: object, width: int, height: int) -> PinholeIntrinsics:
        """From a camera matrix K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], given as 3x3 or as the
        9 row-major values of CameraInfo.k, and the image size of CameraInfo.width/height.

        Skew and a non-pinhole last row are refused (no calibration tool produces them for a
        rectified image). For rectified images pass the left 3x3 block of CameraInfo.p.
        """
        try:
            matrix = np.asarray(k, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise DepthInputError(BAD_INTRINSICS, f"K is not numeric: {error}") from None
        if matrix.size != 9:
            raise DepthInputError(BAD_INTRINSICS, f"K must have 9 values, got {matrix.size}")
        matrix = matrix.reshape(3, 3)
        if not np.isfinite(matrix).all():
            raise DepthInputError(BAD_INTRINSICS, f"K has non-finite values: {matrix.tolist()}")
        if not matrix.any():
            raise DepthInputError(BAD_INTRINSICS, "K is all zeros (the camera is not calibrated)")
        fx, fy = matrix[0, 0], matrix[1, 1]
        if abs(matrix[0, 1]) > 1e-9 * max(abs(fx), 1.0):
            raise DepthInputError(BAD_INTRINSICS, f"skew K[0][1] = {matrix[0, 1]} is unsupported")
        if matrix[1, 0] != 0 or matrix[2].tolist() != [0.0, 0.0, 1.0]:
            raise DepthInputError(BAD_INTRINSICS, f"not a pinhole camera K: {matrix.tolist()}")
        return cls(float(fx), float(fy), float(matrix[0, 2]), float(matrix[1, 2]),
                   int(width), int(height))  # fmt: skip

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), the order of numpy image shapes."""
        return (self.height, self.width)

    def matrix(self) -> np.ndarray:
        """K as float64 [3, 3]."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    def scaled_to(self, width: int, height: int) -> PinholeIntrinsics:
        """The intrinsics of the same view resized to width x height pixels.

        The grids are aligned at their outer edges (as cv2.resize and pixel binning align them):
        u' + 1/2 = sx (u + 1/2) with sx = width / self.width, so fx' = sx fx and
        cx' = sx (cx + 1/2) - 1/2 (y likewise). ROS image_proc's resize scales cx by sx alone;
        the two differ by (1 - sx) / 2 pixel, a quarter pixel at half size. Raises
        DepthInputError(SIZE_MISMATCH) unless the sizes have the same aspect ratio
        (`matching_scale`).
        """
        if (width, height) == (self.width, self.height):
            return self
        matching_scale((height, width), (self.height, self.width), "camera intrinsics")
        sx, sy = width / self.width, height / self.height
        return PinholeIntrinsics(
            self.fx * sx, self.fy * sy, sx * (self.cx + 0.5) - 0.5, sy * (self.cy + 0.5) - 0.5,
            int(width), int(height),
        )

    def column_rays(self, start: int, stop: int) -> np.ndarray:
        """(u - cx) / fx for the columns u = start .. stop - 1: x = ray * z. float64 [n]."""
        return (np.arange(start, stop, dtype=np.float64) - self.cx) / self.fx

    def row_rays(self, start: int, stop: int) -> np.ndarray:
        """(v - cy) / fy for the rows v = start .. stop - 1: y = ray * z. float64 [n]."""
        return (np.arange(start, stop, dtype=np.float64) - self.cy) / self.fy

    def back_project(self, u: np.ndarray, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Pixel coordinates u, v (any float, centre convention) at depths z → points [..., 3]."""
        u, v, z = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(v, np.float64),
                                      np.asarray(z, np.float64))  # fmt: skip
        return np.stack([(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z], axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Points [..., 3] in the camera frame (z > 0) → pixel coordinates [..., 2] (u, v)."""
        points = np.asarray(points, np.float64)
        z = points[..., 2]
        return np.stack([self.fx * points[..., 0] / z + self.cx,
                         self.fy * points[..., 1] / z + self.cy], axis=-1)  # fmt: skip


def matching_scale(
    reference: tuple[int, int], other: tuple[int, int], what: str = "depth"
) -> tuple[float, float]:
    """(sx, sy) = other / reference sizes, both (height, width), when `other` (the depth image or
    the intrinsics' image, named by `what` in the error) is `reference` (the colour image)
    resized with the same aspect ratio: each side must be what the other side's factor predicts
    to within rounding, |W' - sy W| < 1 and |H' - sx H| < 1 (1280x720 → 640x360 or 320x180,
    641x481 → 320x240 pass; 1280x720 → 424x240 or 848x480 fail: such a depth image is not
    registered to the colour image). Raises DepthInputError(SIZE_MISMATCH) otherwise.
    """
    (height, width), (other_h, other_w) = reference, other
    if min(other_h, other_w, height, width) < 1:
        raise DepthInputError(SIZE_MISMATCH, f"empty size: {what} {other_w}x{other_h}, "
                              f"image {width}x{height}")  # fmt: skip
    sx, sy = other_w / width, other_h / height
    if abs(other_w - sy * width) >= 1 or abs(other_h - sx * height) >= 1:
        raise DepthInputError(
            SIZE_MISMATCH, f"{what} is {other_w}x{other_h}, the image is {width}x{height} "
            f"(aspect ratios {other_w / other_h:.4f} vs {width / height:.4f})"
        )  # fmt: skip
    return sx, sy


def resample_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A depth image [h, w] brought to `size` (height, width) of the same aspect ratio, by the
    grid rule of `PinholeIntrinsics.scaled_to`: each target pixel takes the depth pixel that
    contains its centre (nearest, never an average: averaging across an object's border would
    invent depths between the object and what lies behind it). The same array when the sizes
    agree; DepthInputError(SIZE_MISMATCH) for another aspect ratio."""
    height, width = size
    if depth.shape[:2] == (height, width):
        return depth
    matching_scale((height, width), depth.shape[:2])
    rows = ((np.arange(height) + 0.5) * depth.shape[0] / height).astype(np.intp)
    cols = ((np.arange(width) + 0.5) * depth.shape[1] / width).astype(np.intp)
    return depth[np.minimum(rows, depth.shape[0] - 1)[:, None],
                 np.minimum(cols, depth.shape[1] - 1)[None, :]]  # fmt: skip


def depth_to_metres(array: np.ndarray, encoding: str) -> np.ndarray:
    """A decoded ROS depth image → float32 [H, W] metres with NaN where there is no reading.

    `16UC1`: uint16 millimetres (either byte order), 0 = no reading. `32FC1`: float32 metres,
    0, negative, NaN and inf = no reading. A trailing channel axis of 1 is accepted. Anything
    else raises DepthInputError (UNKNOWN_ENCODING or MALFORMED_DEPTH). Never modifies `array`.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise DepthInputError(
            UNKNOWN_ENCODING, f"{encoding!r}; depth must be one of {', '.join(DEPTH_ENCODINGS)}"
            " (REP 118)"
        )  # fmt: skip
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.size == 0:
        raise DepthInputError(MALFORMED_DEPTH, f"{encoding} must be [H, W], got {array.shape}")
    wanted = ("u", 2) if encoding == "16UC1" else ("f", 4)
    if (array.dtype.kind, array.dtype.itemsize) != wanted:
        raise DepthInputError(MALFORMED_DEPTH, f"{encoding} array has dtype {array.dtype}")
    if encoding == "16UC1":
        metres = array.astype(np.float32) / np.float32(_MM_PER_M)
        metres[array == 0] = np.nan
        return metres
    metres = array.astype(np.float32)  # a copy, in native byte order
    metres[~((metres > 0) & (metres < np.inf))] = np.nan
    return metres


def metres_to_depth(depth_m: np.ndarray, encoding: str) -> np.ndarray:
    """float metres [H, W] (NaN, inf, ≤ 0 = no reading) → the array of a ROS depth image:
    `16UC1` uint16 millimetres, rounded, 0 for no reading and for depths beyond 65.535 m;
    `32FC1` float32 metres with NaN for no reading. The inverse of `depth_to_metres`."""
    if encoding not in DEPTH_ENCODINGS:
        raise DepthInputError(UNKNOWN_ENCODING, f"{encoding!r}; known: {DEPTH_ENCODINGS}")
    depth_m = np.asarray(depth_m, dtype=np.float64)
    valid = (depth_m > 0) & (depth_m < np.inf)
    if encoding == "32FC1":
        return np.where(valid, depth_m, np.nan).astype(np.float32)
    mm = np.round(np.where(valid, depth_m, 0.0) * _MM_PER_M)
    return np.where(mm <= _MAX_16UC1_MM, mm, 0).astype(np.uint16)


__all__ = [
    "BAD_INTRINSICS",
    "DEPTH_ENCODINGS",
    "MALFORMED_DEPTH",
    "SIZE_MISMATCH",
    "UNKNOWN_ENCODING",
    "DepthInputError",
    "PinholeIntrinsics",
    "depth_to_metres",
    "matching_scale",
    "metres_to_depth",
    "resample_depth",
]
