"""A simulated detector for videos with ground truth: what a robot's 2D detector gives a
tracker (README, "Object permanence (tracking)").

Per frame, for every ground-truth object:

- it reports the **modal** box (xyxy, exclusive ends) of the object's visible part, as a
  detector trained on visible objects does;
- it drops objects with less than `min_visible` (10 %) of their amodal area visible;
- it misses each other object with probability `miss_probability`;
- it jitters each box corner by a Gaussian of `jitter` x the box's width / height;
- its score is 0.5 + 0.5 x visible share, plus N(0, 0.05), clipped to [0.05, 1];
- its ids are "none" (empty) or "unstable": a detector-side id that survives only while the
  object is detected in consecutive frames (any miss or drop gives a new id, the behaviour
  robotics users report), and that also changes at random with `id_switch_probability` per frame.

The detector draws from its own `numpy.random.Generator`, so a seed fixes its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sameo_core.geometry import mask_box


@dataclass(frozen=True)
class DetectorConfig:
    min_visible: float = 0.10
    miss_probability: float = 0.05
    jitter: float = 0.03
    ids: Literal["none", "unstable"] = "unstable"
    id_switch_probability: float = 0.01

    def __post_init__(self) -> None:
        for name in ("min_visible", "miss_probability", "id_switch_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.jitter <= 0.5:
            raise ValueError(f"jitter must be in [0, 0.5], got {self.jitter}")
        if self.ids not in ("none", "unstable"):
            raise ValueError(f"ids must be 'none' or 'unstable', got {self.ids!r}")


@dataclass(frozen=True)
class SimulatedDetection:
    """box: xyxy float64 [4] (modal, jittered, clipped to the image); gt_track_id: the object
    it came from (for analysis; a tracker must not read it)."""

    box: np.ndarray
    score: float
    class_id: str
    detection_id: str
    gt_track_id: int


class SimulatedDetector:
    """Detections of one video, frame after frame (`detect`)."""

    def __init__(self, config: DetectorConfig | None = None, seed: int = 0) -> None:
        self.config = config or DetectorConfig()
        self.rng = np.random.default_rng(seed)
        self._ids: dict[int, str] = {}  # gt track -> current detector id
        self._next = 1

    def detect(self, objects: Sequence[tuple[int, int, np.ndarray, np.ndarray]],
               class_names: dict[int, str]) -> list[SimulatedDetection]:
        """objects: (gt track id, category id, amodal bool [H, W], visible bool [H, W]) of one
        frame; class_names: category id -> class string. Detections in object order."""
        cfg = self.config
        detections = []
        seen: dict[int, str] = {}
        for track_id, category_id, amodal, visible in objects:
            amodal_area = int(np.count_nonzero(amodal))
            visible_area = int(np.count_nonzero(visible))
            share = visible_area / amodal_area if amodal_area else 0.0
            if share < cfg.min_visible or visible_area == 0:
                continue
            if self.rng.random() < cfg.miss_probability:
                continue
            height, width = visible.shape
            x0, y0, x1, y1 = mask_box(visible)
            w, h = x1 - x0, y1 - y0
            noise = self.rng.normal(0.0, cfg.jitter, 4) * (w, h, w, h)
            box = np.array([x0, y0, x1, y1]) + noise
            box = np.clip(box, 0, (width, height, width, height))
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:  # jitter may not destroy a box
                box = np.array([x0, y0, x1, y1], np.float64)
            score = float(np.clip(0.5 + 0.5 * share + self.rng.normal(0, 0.05), 0.05, 1.0))
            detection_id = ""
            if cfg.ids == "unstable":
                detection_id = self._ids.get(track_id, "")
                if not detection_id or self.rng.random() < cfg.id_switch_probability:
                    detection_id = str(self._next)
                    self._next += 1
                seen[track_id] = detection_id
            detections.append(SimulatedDetection(box, score, class_names.get(category_id, ""),
                                                 detection_id, track_id))
        self._ids = seen  # an object not detected this frame loses its id
        return detections


__all__ = ["DetectorConfig", "SimulatedDetection", "SimulatedDetector"]
