"""Synthetic RGB-D scenes with exact geometry, the ground truth of the 3D-from-depth code.

Every object is a textured plane facing the camera (fronto-parallel) at a known depth, in front
of a textured background plane; a nearer plane hides a farther one, so the layer order is the
depth order. The shapes and textures are those of the procedural shapes (`data/shapes.py`).
Rendering is exact ray casting: the ray through each pixel centre meets a plane at depth z at
x = (u - cx) z / fx, y = (v - cy) z / fy (`sameo_core.camera`), and takes the texel it lands in
(nearest, never blended), so the depth image holds exactly each visible plane's depth.

Ground truth per object: amodal and visible masks (`RoiMask`, amodal ones may reach beyond the
image), the centroid of the visible part (the mean of the ray hits of the visible pixels), and
the plane's true metric extent (its texel grid: the shape mask is tight in it). `noisy_depth`
adds what real sensors add: depth-proportional noise, dropouts, outliers and flying pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sameo_core.camera import PinholeIntrinsics, metres_to_depth
from sameo_core.data.shapes import ObjectPatch, background, random_object, texture
from sameo_core.geometry import RoiMask


@dataclass(frozen=True)
class TexturedPlane:
    """A flat object facing the camera: `patch` (shape mask + texture, on a grid of square
    texels of `texel_m` metres) with the grid's top-left corner at (x, y) = `corner_m` and the
    plane at z = `depth_m` in the camera frame."""

    patch: ObjectPatch
    texel_m: float
    corner_m: tuple[float, float]
    depth_m: float

    @property
    def size_m(self) -> tuple[float, float]:
        """The true metric extent (width, height): the tight mask's texel grid."""
        rows, cols = self.patch.mask.shape
        return (cols * self.texel_m, rows * self.texel_m)


def place_plane(
    patch: ObjectPatch, long_side_m: float, depth_m: float, centre_px: tuple[float, float],
    camera: PinholeIntrinsics,
) -> TexturedPlane:
    """`patch` scaled to a longer side of `long_side_m` metres, at `depth_m`, centred on the ray
    through pixel `centre_px` (u, v)."""
    texel = long_side_m / max(patch.mask.shape)
    width, height = patch.mask.shape[1] * texel, patch.mask.shape[0] * texel
    x, y, _ = camera.back_project(centre_px[0], centre_px[1], depth_m)
    return TexturedPlane(patch, texel, (float(x - width / 2), float(y - height / 2)), depth_m)


def _texel_indices(rays: np.ndarray, depth: float, corner: float, texel: float) -> np.ndarray:
    """Texel index hit by each ray (x / z or y / z) at `depth`; may be out of the grid."""
    return np.floor((rays * depth - corner) / texel).astype(np.intp)


def _cast(plane: TexturedPlane, camera: PinholeIntrinsics) -> tuple[RoiMask, np.ndarray]:
    """The plane's amodal mask (tight, anywhere on the unbounded image plane) and its texture
    over that mask's region (uint8 [h, w, 3])."""
    rows, cols = plane.patch.mask.shape
    (x0, y0), z, s = plane.corner_m, plane.depth_m, plane.texel_m
    # Pixel range that can see the plane: its projected corners, one pixel of margin.
    (u0, v0), (u1, v1) = camera.project(np.array([[x0, y0, z], [x0 + cols * s, y0 + rows * s, z]]))
    u_range = np.arange(int(np.floor(u0)) - 1, int(np.ceil(u1)) + 2)
    v_range = np.arange(int(np.floor(v0)) - 1, int(np.ceil(v1)) + 2)
    ci = _texel_indices((u_range - camera.cx) / camera.fx, z, x0, s)
    ri = _texel_indices((v_range - camera.cy) / camera.fy, z, y0, s)
    col_ok, row_ok = (ci >= 0) & (ci < cols), (ri >= 0) & (ri < rows)
    ci, ri = np.clip(ci, 0, cols - 1), np.clip(ri, 0, rows - 1)
    mask = plane.patch.mask[ri[:, None], ci[None, :]] & row_ok[:, None] & col_ok[None, :]
    tight = RoiMask.from_full(mask)
    (tx, ty), (h, w) = tight.offset, tight.mask.shape
    pixels = plane.patch.pixels[ri[ty : ty + h, None], ci[None, tx : tx + w]]
    return RoiMask(tight.mask, (tx + int(u_range[0]), ty + int(v_range[0]))), pixels


@dataclass(frozen=True)
class RgbdScene:
    """One rendered RGB-D frame and its exact ground truth.

    rgb: uint8 [H, W, 3]. depth_m: float32 [H, W] metres, exact (the background covers every
    pixel, so every reading is valid). planes[i], amodal[i], visible[i]: object i, in the order
    the planes were given (not sorted by depth). visible_centroid_m: float64 [N, 3], the
    centroid of each object's visible part (NaN for an object hidden entirely).
    """

    rgb: np.ndarray
    depth_m: np.ndarray
    intrinsics: PinholeIntrinsics
    planes: tuple[TexturedPlane, ...]
    amodal: tuple[RoiMask, ...]
    visible: tuple[RoiMask, ...]
    visible_centroid_m: np.ndarray
    background_depth_m: float

    @property
    def extent_m(self) -> np.ndarray:
        """True metric (width, height) of every plane, float64 [N, 2]."""
        return np.array([p.size_m for p in self.planes], np.float64).reshape(-1, 2)

    @property
    def front_to_back(self) -> tuple[int, ...]:
        """Object indices sorted from the nearest plane to the farthest (the layer order)."""
        return tuple(int(i) for i in np.argsort([p.depth_m for p in self.planes], kind="stable"))

    def occlusion_rates(self) -> np.ndarray:
        """1 - visible area / amodal area inside the image, float64 [N]."""
        height, width = self.depth_m.shape
        amodal = np.array([m.inside(height, width).area for m in self.amodal], np.float64)
        visible = np.array([m.area for m in self.visible], np.float64)
        return 1.0 - visible / np.maximum(amodal, 1.0)

    def occlusions(self) -> frozenset[tuple[int, int]]:
        """{(front, back)}: every pair whose amodal masks overlap inside the image, the nearer
        plane first (a nearer plane hides a farther one)."""
        height, width = self.depth_m.shape
        full = [m.paste(height, width) for m in self.amodal]
        pairs = set()
        for i in range(len(full)):
            for j in range(i + 1, len(full)):
                if (full[i] & full[j]).any():
                    near_first = self.planes[i].depth_m < self.planes[j].depth_m
                    pairs.add((i, j) if near_first else (j, i))
        return frozenset(pairs)

    def depth_image(self, encoding: str, depth_m: np.ndarray | None = None) -> np.ndarray:
        """The depth (`depth_m`, or the scene's exact depth) as a ROS depth image array:
        "16UC1" uint16 millimetres or "32FC1" float32 metres."""
        return metres_to_depth(self.depth_m if depth_m is None else depth_m, encoding)


def render_planes(
    planes: list[TexturedPlane] | tuple[TexturedPlane, ...], camera: PinholeIntrinsics,
    backdrop: np.ndarray, background_depth_m: float,
) -> RgbdScene:
    """Ray-cast `planes` in front of a background plane (`backdrop`, uint8 [H, W, 3] of the
    camera's image size, at `background_depth_m`). Planes must lie in front of the background
    and at distinct depths (equal depths would make the layer order undefined)."""
    height, width = camera.size
    if backdrop.shape != (height, width, 3) or backdrop.dtype != np.uint8:
        raise ValueError(f"backdrop must be uint8 [{height}, {width}, 3], got "
                         f"{backdrop.dtype} {backdrop.shape}")  # fmt: skip
    depths = [p.depth_m for p in planes]
    if any(not 0 < d < background_depth_m for d in depths):
        raise ValueError(f"plane depths {depths} must lie in (0, {background_depth_m}) m")
    if len(set(depths)) != len(depths):
        raise ValueError(f"plane depths must be distinct, got {depths}")
    rgb = backdrop.copy()
    depth = np.full((height, width), background_depth_m, np.float32)
    owner = np.zeros((height, width), np.int32)  # object index + 1; 0 = background
    cast = [_cast(p, camera) for p in planes]
    for i in sorted(range(len(planes)), key=lambda k: -depths[k]):  # far to near
        amodal, pixels = cast[i]
        rows, cols, mask_rows, mask_cols = amodal.window(height, width)
        hit = amodal.mask[mask_rows, mask_cols]
        rgb[rows, cols][hit] = pixels[mask_rows, mask_cols][hit]
        depth[rows, cols][hit] = depths[i]
        owner[rows, cols][hit] = i + 1
    visible, centroids = [], np.full((len(planes), 3), np.nan)
    for i, (amodal, _) in enumerate(cast):
        seen = amodal.mask & (amodal.crop(owner) == i + 1)
        visible.append(RoiMask(seen, amodal.offset))
        v, u = np.nonzero(seen)
        if len(u):
            x0, y0 = amodal.offset
            rays_u, rays_v = (u + x0 - camera.cx) / camera.fx, (v + y0 - camera.cy) / camera.fy
            centroids[i] = np.array([rays_u.mean(), rays_v.mean(), 1.0]) * depths[i]
    return RgbdScene(rgb, depth, camera, tuple(planes), tuple(c[0] for c in cast),
                     tuple(visible), centroids, float(background_depth_m))  # fmt: skip


@dataclass(frozen=True)
class RgbdSceneConfig:
    """A random scene of `random_rgbd_scene`.

    The camera: width x height pixels, fx = focal_ratio · width (0.82: 525 px at 640, about a
    Kinect / RealSense colour camera), fy 0.4 % larger and the principal point off-centre by a
    few pixels, so that code mixing up x and y or fx and fy fails the tests.
    Objects: num_objects (inclusive range), a longer side in object_size_m, depths at least
    min_depth_gap_m apart in depth_range_m; each new object is placed over an earlier one with
    probability overlap_probability (else anywhere), always entirely inside the image.
    texels_per_pixel: resolution of the shapes on their planes (above 1: no texel is skipped
    into aliasing of the shape outline).
    """

    width: int = 640
    height: int = 480
    focal_ratio: float = 0.82
    num_objects: tuple[int, int] = (2, 5)
    object_size_m: tuple[float, float] = (0.10, 0.30)
    depth_range_m: tuple[float, float] = (0.6, 1.6)
    min_depth_gap_m: float = 0.05
    background_depth_m: tuple[float, float] = (2.0, 3.0)
    overlap_probability: float = 0.7
    texels_per_pixel: float = 1.5

    def __post_init__(self) -> None:
        lo, hi = self.depth_range_m
        if not 0 < lo < hi < self.background_depth_m[0] <= self.background_depth_m[1]:
            raise ValueError("need 0 < depth_range_m < background_depth_m, got "
                             f"{self.depth_range_m}, {self.background_depth_m}")  # fmt: skip
        if not 1 <= self.num_objects[0] <= self.num_objects[1]:
            raise ValueError(f"bad num_objects {self.num_objects}")
        if (hi - lo) / self.num_objects[1] < self.min_depth_gap_m:
            raise ValueError(f"{self.num_objects[1]} objects do not fit into depth_range_m "
                             f"{self.depth_range_m}, {self.min_depth_gap_m} m apart")
        if min(self.width, self.height) < 32:
            raise ValueError(f"image must be at least 32x32, got {self.width}x{self.height}")

    def camera(self) -> PinholeIntrinsics:
        fx = self.focal_ratio * self.width
        return PinholeIntrinsics(fx, fx * 1.004, (self.width - 1) / 2 + 0.013 * self.width,
                                 (self.height - 1) / 2 - 0.011 * self.height, self.width,
                                 self.height)  # fmt: skip


def _depths(rng: np.random.Generator, cfg: RgbdSceneConfig, n: int) -> np.ndarray:
    """n depths at least min_depth_gap_m apart: one per equal slot of the range, each jittered
    inside its slot, in random order."""
    lo, hi = cfg.depth_range_m
    slot = (hi - lo) / n
    jitter = rng.uniform(0, slot - cfg.min_depth_gap_m, n)
    return rng.permutation(lo + np.arange(n) * slot + cfg.min_depth_gap_m / 2 + jitter)


def random_rgbd_scene(
    rng: np.random.Generator, config: RgbdSceneConfig | None = None
) -> RgbdScene:
    """A random scene of `config` (seeded by `rng`): shapes from `data/shapes.py` on planes."""
    cfg = config or RgbdSceneConfig()
    camera = cfg.camera()
    n = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    depths = _depths(rng, cfg, n)
    planes: list[TexturedPlane] = []
    centres: list[tuple[float, float]] = []
    for depth in depths:
        long_side = float(rng.uniform(*cfg.object_size_m))
        side_px = long_side * camera.fx / depth  # the longer side on the image
        side_px = min(side_px, 0.9 * min(cfg.width, cfg.height))
        long_side = side_px * depth / camera.fx
        texels = max(3, round(side_px * cfg.texels_per_pixel))
        patch = random_object(rng, texels, texels)
        half_w = side_px * patch.mask.shape[1] / max(patch.mask.shape) / 2 + 2
        half_h = side_px * patch.mask.shape[0] / max(patch.mask.shape) / 2 + 2
        if centres and rng.random() < cfg.overlap_probability:
            u, v = centres[int(rng.integers(len(centres)))]
            u, v = u + rng.uniform(-1, 1) * half_w * 1.5, v + rng.uniform(-1, 1) * half_h * 1.5
        else:
            u, v = rng.uniform(0, cfg.width), rng.uniform(0, cfg.height)
        u = float(np.clip(u, half_w, cfg.width - 1 - half_w))
        v = float(np.clip(v, half_h, cfg.height - 1 - half_h))
        centres.append((u, v))
        planes.append(place_plane(patch, long_side, float(depth), (u, v), camera))
    backdrop = background(rng, cfg.height, cfg.width)
    return render_planes(planes, camera, backdrop, float(rng.uniform(*cfg.background_depth_m)))


@dataclass(frozen=True)
class DepthNoise:
    """What a real depth sensor adds (the defaults: a fair structured-light / ToF camera).

    relative_std: Gaussian noise σ = relative_std · z (noise grows with depth).
    dropout: share of readings lost (no reading: NaN, 0 in 16UC1).
    outliers: share of readings replaced by a uniform depth in [0.5 z, 1.5 z] (speckle,
      multipath).
    flying_pixels: readings next to a depth edge of more than edge_m get a uniform depth between
      the nearest and the farthest reading of their 3x3 neighbourhood (the mixed pixels real
      sensors produce along object borders).
    """

    relative_std: float = 0.005
    dropout: float = 0.05
    outliers: float = 0.02
    flying_pixels: bool = True
    edge_m: float = 0.02


def noisy_depth(depth_m: np.ndarray, rng: np.random.Generator, noise: DepthNoise) -> np.ndarray:
    """`depth_m` (float metres) with sensor noise, float32, NaN where a reading was lost."""
    z = np.asarray(depth_m, np.float32)
    out = z.copy()
    if noise.flying_pixels:
        kernel = np.ones((3, 3), np.uint8)
        near, far = cv2.erode(z, kernel), cv2.dilate(z, kernel)
        edge = far - near > noise.edge_m
        out[edge] = near[edge] + rng.random(int(edge.sum()), np.float32) * (far - near)[edge]
    out *= 1 + rng.normal(0, noise.relative_std, z.shape).astype(np.float32)
    draw = rng.random(z.shape)
    wild = draw < noise.outliers
    out[wild] = z[wild] * rng.uniform(0.5, 1.5, int(wild.sum())).astype(np.float32)
    out[(draw >= noise.outliers) & (draw < noise.outliers + noise.dropout)] = np.nan
    return out


__all__ = [
    "DepthNoise",
    "RgbdScene",
    "RgbdSceneConfig",
    "TexturedPlane",
    "noisy_depth",
    "place_plane",
    "random_rgbd_scene",
    "render_planes",
]


def half_occluded_scene(camera: PinholeIntrinsics, seed: int = 11) -> RgbdScene:
    """The reference case of an occluded object: a textured 0.30 x 0.20 m rectangle at 1.2 m,
    centred on the image centre, whose right half a 0.30 m square plane at 0.8 m hides, in front
    of a background at 2.5 m. Object 0 is the half-hidden rectangle, object 1 the occluder."""
    rng = np.random.default_rng(seed)
    centre = ((camera.width - 1) / 2, (camera.height - 1) / 2)
    patch = ObjectPatch(texture(rng, 60, 90), np.ones((60, 90), bool), 2)
    back = place_plane(patch, 0.30, 1.2, centre, camera)
    occluder = ObjectPatch(texture(rng, 80, 80), np.ones((80, 80), bool), 2)
    u = centre[0] + 0.15 * camera.fx / 0.8  # its left edge on the centre of the back plane
    front = place_plane(occluder, 0.30, 0.8, (u, centre[1]), camera)
    return render_planes([back, front], camera, texture(rng, camera.height, camera.width), 2.5)
