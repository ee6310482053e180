"""3D of each object from a depth image registered to the colour image: the points the camera
sees of it, a robust object depth, its centroid and box, and its whole (amodal) extent, plus the
depth evidence of who is in front where two objects overlap. A pure function of masks, depth and
intrinsics (numpy only); README, "3D from depth", describes it for users.

Geometric model (camera frame: x right, y down, z forward, metres; `sameo_core.camera`):
- Visible points: each pixel of the object's visible mask with a valid depth reading z is the
  surface point on its ray at z (exact for any shape). Outliers are removed by the rule below.
- Object depth d: the median of the inlier depths, i.e. the depth of the visible surface.
- Amodal extent (fronto-parallel approximation): the object is taken to be a plane facing the
  camera at depth d, and its whole amodal mask, hidden pixels included, is back-projected onto
  it. x and y of the box are the outer edges of the amodal mask's pixels at d; its z range is that
  of the visible inliers. Exact for a flat object facing the camera. Otherwise: a part at a true
  depth z ≠ d gets its x, y scaled by d / z (a size error of the relative depth difference:
  about 10 % for a part 10 cm behind the front surface at 1 m); a tilted object keeps the
  foreshortening of its image; the depth of hidden parts and of the unseen back is not known, so
  the z range covers the visible surface only. Amodal masks reaching beyond the image are
  back-projected too (the pinhole model continues there).

Outlier rule: with m the median of an object's valid depths and MAD the median of |z - m|,
a reading is an inlier when |z - m| ≤ max(k · 1.4826 · MAD, min_tolerance_m) (k = 3).
1.4826 · MAD estimates the standard deviation of Gaussian noise, so the band keeps 99.7 % of a
flat surface's sensor noise, and the median and MAD stay put until half the readings are wrong
(breakdown point 50 %; a mean and standard deviation move with the first outlier). What the
rule removes is what goes wrong in practice: a mask that bleeds onto the occluder or the
background (readings far in front of or behind the object), "flying pixels" that mix both depths
along depth edges, multipath spikes. The floor keeps a flat, quantised (1 mm) surface, whose MAD
can be 0, from rejecting readings a millimetre off. When no surface holds half of the readings
(1.4826 · MAD above max_spread = 10 % of m: a thin sliver along a depth edge, all flying pixels)
the median is a mixture of depths and the object gets no 3D (NO_SURFACE) rather than a wrong
one. Limit: when more than half of the valid readings under the visible mask belong to another
surface (a mask or box mostly off the object), the object gets that surface's depth.

Outcomes: per object, 3D (`Object3D`) or a reason in `DepthLifting.failed` (the constants
below); per frame, `DepthInputError` (from `sameo_core.camera`, or DEPTH_ALL_INVALID) when the
depth image, its encoding, its size or the intrinsics make any 3D impossible. The 2D results
are never touched: a caller publishes them whatever this module says.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from sameo_core.camera import (
    BAD_INTRINSICS,
    MALFORMED_DEPTH,
    DepthInputError,
    PinholeIntrinsics,
    resample_depth,
)
from sameo_core.geometry import RoiMask

# Per-frame reason (a DepthInputError) beside those of sameo_core.camera.
DEPTH_ALL_INVALID = "depth is all invalid"
# Per-object reasons (`DepthLifting.failed`).
NO_VISIBLE_PIXELS = "no visible pixel inside the image"
NO_VALID_DEPTH = "no valid depth reading on the visible part"
TOO_FEW_POINTS = "too few valid depth points on the visible part"
NO_SURFACE = "no surface shared by half of the visible depth readings"

MAD_TO_SIGMA = 1.4826  # 1 / Φ⁻¹(3/4): MAD → standard deviation for Gaussian noise


@dataclass(frozen=True)
class LiftingConfig:
    """Settings of `lift_objects`.

    min_valid_points: valid depth readings an object's visible part needs for 3D. 20 readings
      put the standard error of their median at about 0.28 σ of the sensor noise, and at 1 m with
      fx ≈ 600 px they cover about 1 cm² of surface; below that, mask-edge errors dominate.
      At least half of them survive the outlier rule (k ≥ 1 keeps everything within one MAD).
    mad_k: half-width of the inlier band in robust standard deviations (1.4826 · MAD).
    min_tolerance_m: the band's smallest half-width, in metres.
    max_spread: the largest robust relative spread 1.4826 · MAD / m of an object's valid
      readings. Above it no surface holds half of them (half lie within ±MAD of m, and 0.1 puts
      MAD at 6.7 % of the depth), the median is a mixture of surfaces, and the object gets
      NO_SURFACE instead of a wrong depth (seen on thin slivers along depth edges, all flying
      pixels). A box seen at 45 degrees, 30 cm wide at 1 m, spreads about 0.07.
    max_depth_m: readings above it are invalid (beyond any RGB-D sensor; catches garbage floats).
    """

    min_valid_points: int = 20
    mad_k: float = 3.0
    min_tolerance_m: float = 0.005
    max_spread: float = 0.1
    max_depth_m: float = 100.0

    def __post_init__(self) -> None:
        if self.min_valid_points < 1:
            raise ValueError(f"min_valid_points must be ≥ 1, got {self.min_valid_points}")
        if not self.mad_k >= 1.0:
            raise ValueError(f"mad_k must be ≥ 1 (the band must hold one MAD), got {self.mad_k}")
        if not self.min_tolerance_m >= 0.0:
            raise ValueError(f"min_tolerance_m must be ≥ 0, got {self.min_tolerance_m}")
        if not self.max_spread > 0.0:
            raise ValueError(f"max_spread must be > 0, got {self.max_spread}")
        if not 0.0 < self.max_depth_m < np.inf:
            raise ValueError(f"max_depth_m must be positive and finite, got {self.max_depth_m}")


@dataclass(frozen=True)
class Object3D:
    """The 3D of one object, in the camera frame (metres).

    index: position of the object in the masks given to `lift_objects`.
    points: float32 [n, 3], the inlier visible points (x, y, z).
    depth: the robust object depth d (median of the inlier depths).
    tolerance: half-width of the inlier band around the median of the valid depths.
    centroid: float64 [3], the mean of `points` (the centroid of the visible part).
    visible_box: float64 [6], (x_min, y_min, z_min, x_max, y_max, z_max) of `points`.
    amodal_box: float64 [6], the amodal extent: the outer pixel edges of the box of the amodal
      mask (united with the visible mask's: a visible pixel belongs to the object) at depth d in
      x and y, the inliers' z range in z.
    valid_points: readings under the visible mask that were valid (before outlier rejection);
      valid_points - len(points) were rejected as outliers.
    """

    index: int
    points: np.ndarray
    depth: float
    tolerance: float
    centroid: np.ndarray
    visible_box: np.ndarray
    amodal_box: np.ndarray
    valid_points: int

    @property
    def amodal_size(self) -> np.ndarray:
        """(width, height, depth range) of the amodal extent, float64 [3]."""
        return self.amodal_box[3:] - self.amodal_box[:3]


@dataclass(frozen=True)
class DepthLifting:
    """What `lift_objects` found for one frame.

    objects: one Object3D per object that has 3D, in input order.
    failed: {object index: reason} for the others (NO_VISIBLE_PIXELS, NO_VALID_DEPTH,
      TOO_FEW_POINTS, NO_SURFACE).
    order_evidence: {(i, j): score} for i < j, every pair whose amodal masks overlap inside the
      image; score in [-1, 1], positive when i is in front of j (see `depth_order_evidence`;
      objects that failed with NO_VISIBLE_PIXELS count as hidden there).
    intrinsics: the intrinsics as used, at the colour image's size.
    lifting_s: wall time of the call.
    """

    objects: list[Object3D]
    failed: dict[int, str]
    order_evidence: dict[tuple[int, int], float]
    intrinsics: PinholeIntrinsics
    lifting_s: float

    def labelled_points(self) -> tuple[np.ndarray, np.ndarray]:
        """All visible points, float32 [N, 3], and the object index of each, int32 [N] (the
        fields of one instance-labelled point cloud)."""
        if not self.objects:
            return np.zeros((0, 3), np.float32), np.zeros(0, np.int32)
        points = np.concatenate([o.points for o in self.objects])
        labels = np.repeat(np.array([o.index for o in self.objects], np.int32),
                           [len(o.points) for o in self.objects])  # fmt: skip
        return points, labels


def _check_depth(depth_m: object) -> np.ndarray:
    if not isinstance(depth_m, np.ndarray):
        raise DepthInputError(MALFORMED_DEPTH, f"depth must be a numpy array, got "
                              f"{type(depth_m).__name__}")  # fmt: skip
    if depth_m.ndim == 3 and depth_m.shape[2] == 1:
        depth_m = depth_m[..., 0]
    if depth_m.ndim != 2 or depth_m.size == 0:
        raise DepthInputError(MALFORMED_DEPTH, f"depth must be [H, W], got {depth_m.shape}")
    if depth_m.dtype.kind != "f":
        raise DepthInputError(
            MALFORMED_DEPTH, f"depth must be float metres, got dtype {depth_m.dtype} (convert "
            "a ROS depth image with sameo_core.camera.depth_to_metres)"
        )  # fmt: skip
    return depth_m


def _median(values: np.ndarray) -> float:
    """np.median of a non-empty 1-D array without NaN, by one partition (np.median adds a NaN
    check and dispatch that cost more than the partition itself on an object's readings)."""
    n = len(values)
    half = n // 2
    if n % 2:
        return float(np.partition(values, half)[half])
    part = np.partition(values, (half - 1, half))
    return float(part[half - 1] + part[half]) / 2


def _valid(z: np.ndarray, max_depth: float) -> np.ndarray:
    return (z > 0) & (z <= max_depth)  # False for NaN


def _lift_one(
    index: int, visible: RoiMask, amodal: RoiMask, depth: np.ndarray, valid: np.ndarray,
    camera: PinholeIntrinsics, rays: tuple[np.ndarray, np.ndarray], cfg: LiftingConfig,
) -> Object3D | str:
    """`depth` float metres and `valid` its validity, both on the masks' pixel grid; `rays`:
    the column and row rays of the whole image (x = ray z, y = ray z)."""
    rows, cols, mask_rows, mask_cols = visible.window(*depth.shape)
    mask = visible.mask[mask_rows, mask_cols]
    if not mask.any():
        return NO_VISIBLE_PIXELS
    r, c = np.nonzero(mask & valid[rows, cols])
    if len(r) == 0:
        return NO_VALID_DEPTH
    if len(r) < cfg.min_valid_points:
        return TOO_FEW_POINTS
    z = depth[rows, cols][r, c]
    median = _median(z)
    spread = np.abs(z - np.float32(median))
    sigma = MAD_TO_SIGMA * _median(spread)
    if sigma > cfg.max_spread * median:
        return NO_SURFACE
    tolerance = max(cfg.mad_k * sigma, cfg.min_tolerance_m)
    inlier = spread <= tolerance
    z = z[inlier]
    x = rays[0][cols][c[inlier]] * z
    y = rays[1][rows][r[inlier]] * z
    object_depth = _median(z)
    # The extent of the whole object: box of amodal ∪ visible = union of their boxes; outer
    # pixel edges, so the exclusive end x1 is the edge x1 - 1/2 in centre coordinates.
    boxes = [b for b in (amodal.box(), visible.box()) if b.any()]
    x0, y0 = min(b[0] for b in boxes) - 0.5, min(b[1] for b in boxes) - 0.5
    x1, y1 = max(b[2] for b in boxes) - 0.5, max(b[3] for b in boxes) - 0.5
    scale_x, scale_y = object_depth / camera.fx, object_depth / camera.fy
    # Reductions over the 1-D coordinates (contiguous), not over the axis 0 of [n, 3] points.
    low = [float(v.min()) for v in (x, y, z)]
    high = [float(v.max()) for v in (x, y, z)]
    points = np.empty((len(z), 3), np.float32)
    points[:, 0], points[:, 1], points[:, 2] = x, y, z
    return Object3D(
        index=index, points=points, depth=object_depth, tolerance=tolerance,
        centroid=np.array([v.mean(dtype=np.float64) for v in (x, y, z)]),
        visible_box=np.array(low + high),
        amodal_box=np.array([(x0 - camera.cx) * scale_x, (y0 - camera.cy) * scale_y, low[2],
                             (x1 - camera.cx) * scale_x, (y1 - camera.cy) * scale_y, high[2]]),
        valid_points=len(spread),
    )


def depth_order_evidence(
    amodal: Sequence[RoiMask], depth_m: np.ndarray, objects: Sequence[Object3D],
    hidden: Collection[int] = (), config: LiftingConfig | None = None,
) -> dict[tuple[int, int], float]:
    """Depth evidence of who is in front, for every pair of objects whose amodal masks overlap
    inside the image: {(i, j): score} with i < j, score in [-1, 1], positive = i in front of j.

    In the overlap the camera sees the front object (or a third one in front of both): a reading
    on i's surface means that nothing, j included, is in front of i at that pixel. A valid
    reading z there votes for "i in front of j" when it lies on i's surface (|z - d_i| ≤ the
    tolerance of i's inlier band) and j's surface would lie behind it (z < d_j - tolerance of
    j; at equal depths a reading cannot tell whose surface it is), and the other way round. An
    object in `hidden` (its visible mask is empty: it is behind whatever is seen over it) gets
    no votes, and every reading on the other's surface votes against it. score = (votes for i -
    votes for j) / max(valid readings in the overlap, min_valid_points), so a tiny overlap gives
    weak evidence. 0 means no depth evidence: equal depths, a third object hides the whole
    overlap, the overlap has no valid reading, or one of the two is neither lifted (in
    `objects`) nor hidden.

    depth_m: float metres on the masks' pixel grid (as `lift_objects` resamples it).
    """
    cfg = config or LiftingConfig()
    valid = _valid(depth_m, cfg.max_depth_m)
    return _order_evidence(amodal, depth_m, valid, objects, hidden, cfg)


def _order_evidence(
    amodal: Sequence[RoiMask], depth_m: np.ndarray, valid: np.ndarray,
    objects: Sequence[Object3D], hidden: Collection[int], cfg: LiftingConfig,
) -> dict[tuple[int, int], float]:
    height, width = depth_m.shape[:2]
    lifted = {o.index: o for o in objects}
    # Image-clipped ROI bounds (top, bottom, left, right) of every amodal mask, then candidate
    # pairs whose bounds intersect, all at once.
    bounds = np.array([[w[0].start, w[0].stop, w[1].start, w[1].stop]
                       for w in (m.window(height, width) for m in amodal)], np.intp).reshape(-1, 4)
    top = np.maximum(bounds[:, None, 0], bounds[None, :, 0])
    bottom = np.minimum(bounds[:, None, 1], bounds[None, :, 1])
    left = np.maximum(bounds[:, None, 2], bounds[None, :, 2])
    right = np.minimum(bounds[:, None, 3], bounds[None, :, 3])
    candidates = np.argwhere(np.triu((bottom > top) & (right > left), k=1))
    surfaces: dict[int, _Surface | None] = {}

    def surface(k: int) -> _Surface | None:
        if k not in surfaces:
            surfaces[k] = _surface(lifted.get(k), k in hidden, depth_m, valid, bounds[k])
        return surfaces[k]

    evidence: dict[tuple[int, int], float] = {}
    for i, j in candidates.tolist():
        t, b, le, r = top[i, j], bottom[i, j], left[i, j], right[i, j]
        overlap = _sub_mask(amodal[i], t, b, le, r) & _sub_mask(amodal[j], t, b, le, r)
        if not overlap.any():
            continue
        a, c = surface(i), surface(j)
        if a is None or c is None or (a.on is None and c.on is None):
            evidence[(i, j)] = 0.0
            continue
        votes = _votes(overlap, a, c, t, b, le, r) - _votes(overlap, c, a, t, b, le, r)
        readings = int(np.count_nonzero(overlap & valid[t:b, le:r]))
        evidence[(i, j)] = votes / max(readings, cfg.min_valid_points)
    return evidence


@dataclass(frozen=True)
class _Surface:
    """Over an object's image-clipped ROI (`bounds`: top, bottom, left, right): `on`, where a
    valid reading lies on its surface, and `nearer`, where a reading lies in front of it. A
    hidden object has no surface (on None) and everything is in front of it (nearer None)."""

    bounds: np.ndarray
    on: np.ndarray | None
    nearer: np.ndarray | None

    def part(self, array: np.ndarray, t: int, b: int, le: int, r: int) -> np.ndarray:
        top, _, left, _ = self.bounds
        return array[t - top : b - top, le - left : r - left]


def _surface(
    lifted: Object3D | None, hidden: bool, depth_m: np.ndarray, valid: np.ndarray,
    bounds: np.ndarray,
) -> _Surface | None:
    if lifted is None:
        return _Surface(bounds, None, None) if hidden else None
    top, bottom, left, right = bounds
    z = depth_m[top:bottom, left:right]
    on = (np.abs(z - lifted.depth) <= lifted.tolerance) & valid[top:bottom, left:right]
    return _Surface(bounds, on, z < lifted.depth - lifted.tolerance)


def _votes(
    overlap: np.ndarray, front: _Surface, back: _Surface, t: int, b: int, le: int, r: int
) -> int:
    """Readings of the overlap (image rows t..b-1, columns le..r-1) that lie on `front`'s
    surface with `back`'s surface behind them."""
    if front.on is None:
        return 0
    on_front = overlap & front.part(front.on, t, b, le, r)
    if back.nearer is not None:
        on_front &= back.part(back.nearer, t, b, le, r)
    return int(np.count_nonzero(on_front))


def _sub_mask(mask: RoiMask, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """The part of `mask` over image rows top..bottom-1, columns left..right-1 (inside its ROI)."""
    x0, y0 = mask.offset
    return mask.mask[top - y0 : bottom - y0, left - x0 : right - x0]


def lift_objects(
    visible: Sequence[RoiMask], amodal: Sequence[RoiMask], depth_m: np.ndarray,
    intrinsics: PinholeIntrinsics | None, image_size: tuple[int, int],
    config: LiftingConfig | None = None,
) -> DepthLifting:
    """The 3D of every object of one frame, from its visible and amodal masks.

    visible, amodal: one RoiMask each per object, in the pixels of the colour image of
      `image_size` (height, width), which is where the masks were predicted.
    depth_m: float depth in metres, registered to the colour image, invalid readings NaN
      (`sameo_core.camera.depth_to_metres` decodes 16UC1 / 32FC1); zeros, negatives, inf and
      readings above `config.max_depth_m` count as invalid too. Of the colour image's size, or of
      a same-aspect resize of it (then resampled to it, `sameo_core.camera.resample_depth`).
    intrinsics: the pinhole intrinsics of the colour image, or of a same-aspect resize of it
      (then scaled to it, `PinholeIntrinsics.scaled_to`); None when no CameraInfo came.

    Raises DepthInputError (a ValueError) when no 3D is possible for the frame: intrinsics
    missing (BAD_INTRINSICS), a depth array that is not float [H, W] (MALFORMED_DEPTH), a depth
    or intrinsics size that is not a same-aspect resize of the image (SIZE_MISMATCH), no valid
    reading in the whole depth image (DEPTH_ALL_INVALID). Objects without 3D are listed in
    `failed` with their reason.
    """
    start = time.perf_counter()
    cfg = config or LiftingConfig()
    if len(visible) != len(amodal):
        raise ValueError(f"{len(visible)} visible masks for {len(amodal)} amodal masks")
    if intrinsics is None:
        raise DepthInputError(BAD_INTRINSICS, "no camera intrinsics (no CameraInfo received)")
    if not isinstance(intrinsics, PinholeIntrinsics):
        raise TypeError(f"intrinsics must be PinholeIntrinsics, got {type(intrinsics).__name__}")
    height, width = (int(v) for v in image_size)
    depth = _check_depth(depth_m)
    camera = intrinsics.scaled_to(width, height)
    depth = resample_depth(depth, (height, width))
    valid = _valid(depth, cfg.max_depth_m)
    if not valid.any():
        raise DepthInputError(
            DEPTH_ALL_INVALID, f"no reading in (0, {cfg.max_depth_m:g}] m in the "
            f"{depth_m.shape[1]}x{depth_m.shape[0]} depth image"
        )  # fmt: skip
    objects: list[Object3D] = []
    failed: dict[int, str] = {}
    rays = (camera.column_rays(0, width).astype(np.float32),
            camera.row_rays(0, height).astype(np.float32))  # fmt: skip
    for index, (vis, amo) in enumerate(zip(visible, amodal)):
        result = _lift_one(index, vis, amo, depth, valid, camera, rays, cfg)
        if isinstance(result, str):
            failed[index] = result
        else:
            objects.append(result)
    hidden = [i for i, reason in failed.items() if reason == NO_VISIBLE_PIXELS]
    evidence = _order_evidence(amodal, depth, valid, objects, hidden, cfg)
    return DepthLifting(objects, failed, evidence, camera, time.perf_counter() - start)


__all__ = [
    "DEPTH_ALL_INVALID",
    "MAD_TO_SIGMA",
    "NO_SURFACE",
    "NO_VALID_DEPTH",
    "NO_VISIBLE_PIXELS",
    "TOO_FEW_POINTS",
    "DepthLifting",
    "LiftingConfig",
    "Object3D",
    "depth_order_evidence",
    "lift_objects",
]
