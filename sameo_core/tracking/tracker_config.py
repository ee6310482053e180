"""The tracker's settings: one frozen dataclass, every threshold and bound documented and
validated (README, "Object permanence (tracking)")."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

MotionModel = Literal["constant_velocity", "static"]

# Hard ceilings of the bounds below: they size the association matrix (tracks x masks) and the
# per-track state, so a typo cannot make one frame cost seconds.
MAX_TRACKS_LIMIT = 1024
MAX_MASKS_LIMIT = 4096


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of `AmodalTracker` (sameo_core/tracking/tracker.py).

    Bounds:
    max_tracks: most live tracks (detected, hidden or recovered). A new object beyond it gets no
      track: its mask is listed in `TrackerResult.untracked` ("max_tracks reached") and a
      warning is given; live tracks are never pushed out. 1 ≤ max_tracks ≤ 1024.
    max_masks: most masks read in one frame; masks beyond it are left untracked ("more masks than
      max_masks"). 1 ≤ max_masks ≤ 4096.

    Time:
    hidden_timeout: seconds a HIDDEN track is carried without being seen; then it ends
      ("timeout"). Its confidence falls linearly from its last detected value to 0 over it.
    max_stamp_jump: a frame more than this many seconds after the previous one resets every
      track (with a warning), as a stamp going backwards does: the motion model cannot bridge
      such a gap (a paused bag, a clock jump).

    States (README, "Object permanence (tracking)"):
    visible_threshold: a detected object whose visible fraction (`InstancePrediction.
      visible_fraction`) is at least this is VISIBLE, else OCCLUDED. Without a modal head
      (visible_fraction None) a detected object is VISIBLE.
    hidden_cover: an undetected track is HIDDEN when at least this share of its predicted amodal
      region inside the image is covered by the frame's visible masks (the objects seen there
      are in front of it: occlusion_order's rule).
    recover_min_iou: a re-prompted mask (RECOVERED) is kept only when SAMEO's predicted IoU is at
      least this ...
    recover_min_overlap: ... and its amodal mask overlaps the track's predicted amodal mask by at
      least this IoU.
    removed_after: consecutive frames in which an undetected track's region is neither covered
      nor recovered before it ends as "removed" (1: at once). In between it is not reported.
    min_hits: a track detected in fewer frames than this is tentative: when it is not detected
      it is re-prompted, but never carried HIDDEN, and it ends ("removed") the first frame it
      is not recovered either (SORT's min_hits: a spurious or duplicate mask does not become
      a ghost). 1 ≤ min_hits ≤ 1000.
    min_inside: a track whose predicted amodal mask has less than this share of its pixels inside
      the image ends as "exited" when it is not detected.

    min_completeness: a mask whose box (inside the image) is narrower or lower than this share
      of the track's kept amodal shape, or wider or higher than its inverse, is an inconsistent
      amodal mask (SAMEO prompted with the box of a sliver completes little of the hidden part,
      and its visible fraction then says "fully visible"; next to an occluder it may spill
      onto it): it does
      not replace the kept shape nor move the motion model, it counts as OCCLUDED, and the
      track reports its carried shape as its amodal mask (the frame's mask stays the visible
      evidence: `visible`, `mask_index`). 0.7 (was 0.9): with masks as noisy as the demo
      model's, 0.9 rejects most views as inconsistent (a 1-px erosion of a 20-px object);
      chosen with position_noise on a validation video seed (BENCHMARKS.md, "Object
      permanence", mask noise).

    relearn_after: a track whose object is seen whole (visible share ≥ visible_threshold)
      with masks inconsistent with its carried shape for this many frames in a row starts its
      shape and motion model again from the frame's mask (the carried shape was learnt from bad
      views). 0 (default) never: it traded hidden recall and re-appearance for IDF1 with the
      demo model (BENCHMARKS.md, "Object permanence"). 0 ≤ relearn_after ≤ 1000.
    shape_rate: weight of one view in the track's averaged amodal shape (shape_memory.py): a
      view seen with visible share ≥ visible_threshold joins it with this weight (0.2: about
      the last 5 such views decide each pixel).

    Association:
    min_affinity: smallest affinity (amodal-mask IoU, box IoU fallback, re-appearance
      containment; association.py) for a mask to continue a track.
    id_prior: added to the affinity of a pair whose detection id equals the id the track's
      last detection had (a prior: it never lifts a pair over the gate on its own).
    duplicate_iou: an unmatched mask whose amodal mask overlaps a mask that continued a track
      by at least this IoU starts no new track ("duplicate of a tracked mask").

    Motion (motion.py): constant velocity on the amodal box, or static.
    position_noise: measurement noise (px) of the amodal box of a fully visible object; an
      occluded object's box is trusted less (noise / visible fraction). 8 (was 2): at 2 px
      noisy mask boxes gave static objects a velocity that carried them off while hidden
      (same validation runs as min_completeness).
    acceleration_noise: process noise (px/s²) of the constant-velocity model.
    """

    max_tracks: int = 64
    max_masks: int = 512
    hidden_timeout: float = 5.0
    max_stamp_jump: float = 1.0
    visible_threshold: float = 0.9
    hidden_cover: float = 0.6
    recover_min_iou: float = 0.5
    recover_min_overlap: float = 0.5
    removed_after: int = 2
    min_hits: int = 3
    min_inside: float = 0.2
    min_completeness: float = 0.7
    shape_rate: float = 0.2
    relearn_after: int = 0
    min_affinity: float = 0.3
    id_prior: float = 0.2
    duplicate_iou: float = 0.7
    motion: MotionModel = "constant_velocity"
    position_noise: float = 8.0
    acceleration_noise: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "motion":
                if value not in ("constant_velocity", "static"):
                    raise ValueError(f"motion must be 'constant_velocity' or 'static', "
                                     f"got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value}")
        if not 1 <= self.max_tracks <= MAX_TRACKS_LIMIT or int(self.max_tracks) != self.max_tracks:
            raise ValueError(f"max_tracks must be an integer in [1, {MAX_TRACKS_LIMIT}], "
                             f"got {self.max_tracks}")
        if not 1 <= self.max_masks <= MAX_MASKS_LIMIT or int(self.max_masks) != self.max_masks:
            raise ValueError(f"max_masks must be an integer in [1, {MAX_MASKS_LIMIT}], "
                             f"got {self.max_masks}")
        if not 0 <= self.relearn_after <= 1000 or int(self.relearn_after) != self.relearn_after:
            raise ValueError(f"relearn_after must be an integer in [0, 1000], "
                             f"got {self.relearn_after}")
        for name in ("removed_after", "min_hits"):
            value = getattr(self, name)
            if not 1 <= value <= 1000 or int(value) != value:
                raise ValueError(f"{name} must be an integer in [1, 1000], got {value}")
        for name in ("hidden_timeout", "max_stamp_jump", "position_noise"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.acceleration_noise < 0:
            raise ValueError(f"acceleration_noise must be ≥ 0, got {self.acceleration_noise}")
        for name in ("visible_threshold", "hidden_cover", "recover_min_overlap", "min_inside",
                     "min_completeness", "shape_rate", "min_affinity", "duplicate_iou"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if not 0.0 <= self.id_prior <= 1.0:
            raise ValueError(f"id_prior must be in [0, 1], got {self.id_prior}")
        if not 0.0 <= self.recover_min_iou <= 1.0:
            raise ValueError(f"recover_min_iou must be in [0, 1], got {self.recover_min_iou}")


__all__ = ["MAX_MASKS_LIMIT", "MAX_TRACKS_LIMIT", "MotionModel", "TrackerConfig"]
