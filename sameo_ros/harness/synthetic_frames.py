"""Synthetic camera frames with detections, for the demo, the benchmark and the tests.

Frames come from sameo_core.data's procedural amodal scenes (textured shapes occluding each other).
The detector is simulated: one box per instance around its *visible* part, as a modal detector sees
it, so the amodal masks should reach beyond the boxes where objects are occluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sameo_core.data.scene import SceneConfig, generate_scene


@dataclass(frozen=True)
class Frame:
    """One synthetic camera frame and what a detector reports for it."""

    rgb: np.ndarray  # uint8 [H, W, 3]
    boxes: np.ndarray  # float64 [N, 4] xyxy pixels (visible extent of each instance)
    ids: tuple[str, ...]
    class_ids: tuple[str, ...]
    scores: np.ndarray  # float64 [N]
    amodal: tuple[np.ndarray, ...]  # ground-truth bool [H, W] amodal mask per box
    visible: tuple[np.ndarray, ...]  # ground-truth bool [H, W] visible mask per box


def _box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def scene_frame(
    seed: int,
    size: int = 256,
    canvas: tuple[int, int] | None = None,
    detections: int | None = None,
) -> Frame:
    """A procedural scene of `size` px placed top-left on a `canvas` (width, height) if given.

    detections: repeat the instances' boxes (shifted by up to 3 px) until there are this many.
    """
    rng = np.random.default_rng(seed)
    rgb, instances = generate_scene(rng, SceneConfig(image_size=size))
    instances = [inst for inst in instances if inst.visible_mask.any()]
    width, height = canvas or (size, size)
    full = np.zeros((height, width, 3), np.uint8)
    full[:size, :size] = rgb[:height, :width]
    amodal, visible = [], []
    for inst in instances:
        a, v = np.zeros((height, width), bool), np.zeros((height, width), bool)
        a[:size, :size], v[:size, :size] = inst.amodal_mask, inst.visible_mask
        amodal.append(a)
        visible.append(v)
    count = detections or len(instances)
    source = [k % len(instances) for k in range(count)]
    jitter = rng.integers(-3, 4, size=(count, 4)) * (np.arange(count) >= len(instances))[:, None]
    boxes = np.stack([_box(visible[k]) for k in source]) + jitter
    return Frame(
        rgb=full,
        boxes=boxes.astype(np.float64),
        ids=tuple(f"obj{k}" for k in range(count)),
        class_ids=tuple(instances[k].category_name for k in source),
        scores=rng.uniform(0.6, 1.0, count),
        amodal=tuple(amodal[k] for k in source),
        visible=tuple(visible[k] for k in source),
    )
