"""Procedural videos with amodal ground truth, for object permanence (README, "Object
permanence (tracking)").

`generate_video(seed, config)` paints a sequence of 30-fps frames on one textured background
with the same painter as the still scenes (`shapes.background`, `shapes.random_object`):

- static objects, placed apart from each other, fully inside the frame;
- moving objects on straight lines at constant speed, each aimed through a static object's
  centre, behind or in front of it (objects passing behind each other); they may enter late and
  leave the frame (exits);
- an occluder (a large textured rectangle, in front of everything) that sweeps across the frame
  `sweeps` times, alternately from the left and the right, each time stopping over a static
  object long enough to hide it fully for a drawn 0.3–3 s (`hide_seconds`), then moving on and
  out of the frame.

Every frame lists every object whose amodal mask reaches into the frame: its amodal mask (cut at
the image border, as datasets annotate it), its visible mask (what no object in front covers),
whether it is fully hidden (amodal pixels in the frame, none visible), and the ids of the
objects in front of it whose amodal masks overlap it. Object sizes follow the demo model's
training scenes (128 px frames, objects 24–40 px on their longer side, within
`SceneConfig.object_size` = 0.2–0.45 of 128 px; the occluder, 52–60 x 60–76 px, is a little
larger than those so that it can hide them whole).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sameo_core.data.procedural_scenes import layer_occluders
from sameo_core.data.shapes import CATEGORIES, ObjectPatch, background, random_object, texture
from sameo_core.geometry import RoiMask

OCCLUDER_CATEGORY = next(int(c["id"]) for c in CATEGORIES if c["name"] == "rectangle")
MAX_FRAMES = 100_000
MAX_IMAGE_SIZE = 4096


@dataclass(frozen=True)
class VideoConfig:
    """image_size: square frames (px). num_frames, fps: length and rate. num_objects: inclusive
    range of objects besides the occluder; moving_probability: chance that an object (after the
    first, always static) moves; object_size: inclusive range of an object's longer side (px);
    speed: of a moving object (px/s); occluder_size: (width range, height range) px;
    occluder_speed: px/s while it moves; hide_seconds: drawn full-hiding time of each sweep's
    target; sweeps: passes of the occluder (0: none)."""

    image_size: int = 128
    num_frames: int = 240
    fps: float = 30.0
    num_objects: tuple[int, int] = (2, 4)
    moving_probability: float = 0.4
    object_size: tuple[int, int] = (24, 40)
    speed: tuple[float, float] = (8.0, 30.0)
    occluder_size: tuple[tuple[int, int], tuple[int, int]] = ((52, 60), (60, 76))
    occluder_speed: tuple[float, float] = (60.0, 120.0)
    hide_seconds: tuple[float, float] = (0.3, 3.0)
    sweeps: int = 2

    def __post_init__(self) -> None:
        if not 64 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be in [64, {MAX_IMAGE_SIZE}], got "
                             f"{self.image_size}")
        if not 1 <= self.num_frames <= MAX_FRAMES:
            raise ValueError(f"num_frames must be in [1, {MAX_FRAMES}], got {self.num_frames}")
        if not 0 < self.fps <= 1000:
            raise ValueError(f"fps must be in (0, 1000], got {self.fps}")
        if not 1 <= self.num_objects[0] <= self.num_objects[1] <= 16:
            raise ValueError(f"num_objects must be 1 <= lo <= hi <= 16, got {self.num_objects}")
        if not 0.0 <= self.moving_probability <= 1.0:
            raise ValueError(f"moving_probability must be in [0, 1], got "
                             f"{self.moving_probability}")
        lo, hi = self.object_size
        (wlo, whi), (hlo, hhi) = self.occluder_size
        if not 4 <= lo <= hi < min(wlo, hlo) or wlo > whi or hlo > hhi:
            raise ValueError("need 4 <= object_size lo <= hi < occluder width and height "
                             f"ranges, got {self.object_size}, {self.occluder_size}")
        if max(whi, hhi) > self.image_size:
            raise ValueError(f"occluder_size must fit in the {self.image_size}-px frame")
        for name in ("speed", "occluder_speed", "hide_seconds"):
            a, b = getattr(self, name)
            if not 0 < a <= b:
                raise ValueError(f"{name} must satisfy 0 < lo <= hi, got {(a, b)}")
        if not 0 <= self.sweeps <= 100:
            raise ValueError(f"sweeps must be in [0, 100], got {self.sweeps}")


@dataclass(frozen=True)
class FrameObject:
    """One object in one frame. amodal, visible: bool [H, W] (visible ⊆ amodal)."""

    track_id: int
    category_id: int
    amodal: np.ndarray
    visible: np.ndarray
    fully_hidden: bool
    occluded_by: tuple[int, ...]  # track ids in front whose amodal masks overlap this one


@dataclass(frozen=True)
class TrackInfo:
    """track_id: 1-based within the video; motion: "static" | "moving"; role: "object" |
    "occluder"."""

    track_id: int
    category_id: int
    motion: str
    role: str


@dataclass(frozen=True)
class GeneratedVideo:
    """frames: RGB uint8 [H, W, 3] each; objects[t]: the objects of frame t (any order)."""

    seed: int
    config: VideoConfig
    tracks: list[TrackInfo]
    frames: list[np.ndarray]
    objects: list[list[FrameObject]]
    sweeps: list[dict[str, float]] = field(default_factory=list)  # target, frames, hide_s


@dataclass
class _Mover:
    track_id: int
    patch: ObjectPatch
    layer: float
    xy: np.ndarray  # [T, 2] top-left (x, y) per frame, float
    motion: str
    role: str


def _occluder_patch(rng: np.random.Generator, width: int, height: int) -> ObjectPatch:
    return ObjectPatch(texture(rng, height, width), np.ones((height, width), bool),
                       OCCLUDER_CATEGORY)


def _static_spot(rng: np.random.Generator, size: int, patch: ObjectPatch,
                 placed: list[tuple[float, float, int, int]]) -> tuple[float, float] | None:
    """A top-left inside the frame whose box keeps 4 px from every placed box."""
    h, w = patch.mask.shape
    for _ in range(50):
        x, y = float(rng.integers(2, size - w - 1)), float(rng.integers(2, size - h - 1))
        if all(x + w + 4 <= px or px + pw + 4 <= x or y + h + 4 <= py or py + ph + 4 <= y
               for px, py, pw, ph in placed):  # fmt: skip
            return x, y
    return None


def _paint(image: np.ndarray, patch: ObjectPatch, left: int, top: int) -> np.ndarray:
    """Paint `patch` at (left, top) in place, cut at the border; its full-frame mask."""
    roi = RoiMask(patch.mask, (left, top))
    rows, cols, mask_rows, mask_cols = roi.window(*image.shape[:2])
    inside = patch.mask[mask_rows, mask_cols]
    image[rows, cols][inside] = patch.pixels[mask_rows, mask_cols][inside]
    return roi.paste(*image.shape[:2])


def generate_video(seed: int, config: VideoConfig | None = None) -> GeneratedVideo:
    """One procedural video (module docstring); the same seed gives the same video."""
    cfg = config or VideoConfig()
    rng = np.random.default_rng(seed)
    size, n, fps = cfg.image_size, cfg.num_frames, cfg.fps
    t = np.arange(n, dtype=np.float64) / fps
    movers: list[_Mover] = []
    placed: list[tuple[float, float, int, int]] = []
    statics: list[_Mover] = []
    wanted = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    for k in range(wanted):
        patch = random_object(rng, *cfg.object_size)
        h, w = patch.mask.shape
        moving = k > 0 and bool(statics) and rng.random() < cfg.moving_probability
        if not moving:
            spot = _static_spot(rng, size, patch, placed)
            if spot is None:
                continue
            placed.append((spot[0], spot[1], w, h))
            mover = _Mover(len(movers) + 1, patch, float(rng.random()),
                           np.tile(np.array(spot), (n, 1)), "static", "object")
            statics.append(mover)
        else:
            # starts fully inside the frame, heads through a static object's centre
            target = statics[int(rng.integers(len(statics)))]
            th, tw = target.patch.mask.shape
            centre = target.xy[0] + (tw / 2, th / 2)
            start = np.array([rng.uniform(1, size - w - 1), rng.uniform(1, size - h - 1)])
            heading = centre - (w / 2, h / 2) - start
            if np.hypot(*heading) < 1.0:
                heading = np.array([1.0, 0.0])
            velocity = rng.uniform(*cfg.speed) * heading / np.hypot(*heading)
            xy = start + t[:, None] * velocity
            # behind or in front of the object it passes
            layer = target.layer + (rng.uniform(0.01, 0.5) * (1 if rng.random() < 0.5 else -1))
            mover = _Mover(len(movers) + 1, patch, layer, xy, "moving", "object")
        movers.append(mover)

    sweeps: list[dict[str, float]] = []
    frame = int(rng.integers(5, 20))
    for s in range(cfg.sweeps if statics else 0):
        # each sweep is a new occluder (an object that left the frame and comes back is
        # another track: re-identification is not what these videos measure)
        (wlo, whi), (hlo, hhi) = cfg.occluder_size
        ow, oh = int(rng.integers(wlo, whi + 1)), int(rng.integers(hlo, hhi + 1))
        occluder = _occluder_patch(rng, ow, oh)
        xy = np.tile(np.array([-2.0 * ow, 0.0]), (n, 1))  # outside the frame
        target = statics[int(rng.integers(len(statics)))]
        th, tw = target.patch.mask.shape
        tx, ty = target.xy[0]
        stop_x = tx + tw / 2 - ow / 2
        y = float(np.clip(ty + th / 2 - oh / 2 + rng.uniform(-1, 1) * (oh - th - 4) / 2,
                          0, size - oh))
        speed = rng.uniform(*cfg.occluder_speed) / fps  # px per frame
        hide_s = rng.uniform(*cfg.hide_seconds)
        pause = max(0, round(hide_s * fps - (ow - tw) / speed))
        from_left = s % 2 == 0
        start_x, end_x = (-ow - 1.0, size + 1.0) if from_left else (size + 1.0, -ow - 1.0)
        approach = int(np.ceil(abs(stop_x - start_x) / speed))
        leave = int(np.ceil(abs(end_x - stop_x) / speed))
        if frame + approach + pause + leave >= n:
            break
        path = np.concatenate([
            np.linspace(start_x, stop_x, approach + 1), np.full(pause, stop_x),
            np.linspace(stop_x, end_x, leave + 1)[1:],
        ])  # fmt: skip
        xy[frame : frame + len(path), 0] = path
        xy[frame : frame + len(path), 1] = y
        sweeps.append({"target": target.track_id, "start": frame, "pause": pause,
                       "hide_s": hide_s})
        frame += len(path) + int(rng.integers(5, 20))
        movers.append(_Mover(len(movers) + 1, occluder, math.inf, xy, "moving", "occluder"))

    backdrop = background(rng, size, size)
    back_to_front = sorted(movers, key=lambda m: m.layer)
    frames, objects = [], []
    for f in range(n):
        image = backdrop.copy()
        amodals = []
        for mover in back_to_front:
            x, y = np.round(mover.xy[f]).astype(int)
            amodals.append(_paint(image, mover.patch, int(x), int(y)))
        occluders = layer_occluders(amodals)
        in_front = np.zeros((size, size), bool)
        frame_objects = []
        for k in reversed(range(len(back_to_front))):
            amodal, mover = amodals[k], back_to_front[k]
            visible = amodal & ~in_front
            in_front |= amodal
            if not amodal.any():
                continue
            frame_objects.append(FrameObject(
                mover.track_id, mover.patch.category_id, amodal, visible, not visible.any(),
                tuple(sorted(back_to_front[j].track_id for j in occluders[k])),
            ))
        frames.append(image)
        objects.append(frame_objects[::-1])
    tracks = [TrackInfo(m.track_id, m.patch.category_id, m.motion, m.role) for m in movers]
    return GeneratedVideo(seed, cfg, tracks, frames, objects, sweeps)


def video_seed(seed: int, index: int) -> int:
    """The seed of video `index` of a set generated with `seed` (independent streams)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


__all__ = ["FrameObject", "GeneratedVideo", "OCCLUDER_CATEGORY", "TrackInfo", "VideoConfig",
           "generate_video", "video_seed"]
