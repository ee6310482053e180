"""What goes into and comes out of one tracker call: per-mask detection facts, the track states
and the per-frame result (README, "Object permanence (tracking)")."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.inference.predictor import InstancePrediction


class TrackState(enum.IntEnum):
    """A published track's state; the values are those of the AmodalMask message constants
    (STATE_VISIBLE = 0 ... STATE_RECOVERED = 3).

    VISIBLE: detected this frame, visible fraction ≥ `visible_threshold`.
    OCCLUDED: detected this frame, partly hidden.
    HIDDEN: not detected, its predicted amodal region covered by the visible masks of objects in
      front; carried amodal mask, empty visible mask, decaying confidence.
    RECOVERED: not detected and not covered; SAMEO re-prompted with the track's predicted
      amodal box found it.
    """

    VISIBLE = 0
    OCCLUDED = 1
    HIDDEN = 2
    RECOVERED = 3


class EndReason(str, enum.Enum):
    """Why a track ended (`TrackerResult.ended`)."""

    REMOVED = "removed"  # its region became visible without it (not covered, not recovered)
    EXITED = "exited"  # its predicted amodal mask left the image
    TIMEOUT = "timeout"  # hidden for longer than hidden_timeout
    RESET = "reset"  # stamps went backwards or jumped: every track ends


@dataclass(frozen=True)
class DetectionInfo:
    """What the detector said about one prompt box (vision_msgs/Detection2D).

    detection_id: the detector's id ("" when it gives none): a prior of association, not the
      truth. class_id: the best hypothesis' class ("" when unknown: no class gate). score: the
      detector's score (non-finite: the mask is left untracked).
    """

    detection_id: str = ""
    class_id: str = ""
    score: float = 1.0


# reprompt(boxes_xyxy [n, 4]) -> masks of those boxes on the frame's current image embedding
# (decoder only), each with `index` = its row in boxes; boxes the predictor refuses may be missing.
Reprompt = Callable[[np.ndarray], Sequence[InstancePrediction]]


@dataclass(frozen=True)
class TrackOutput:
    """One track to publish.

    track_id: ≥ 1, unique for the tracker's lifetime (fits a uint64; 0 means "tracking off").
    state: TrackState. amodal: the amodal mask (the frame's for a detected track, the re-prompted
      one for RECOVERED, the carried one moved by the motion model for HIDDEN). visible: the
      visible mask (empty when HIDDEN or without a modal head). mask_index: position in the
      frame's `masks` of the mask it came from (None when HIDDEN / RECOVERED). seconds_hidden: 0
      unless HIDDEN. age: frames since the track was started (0 on its first frame).
    confidence: the detected mask's refined score (clamped to [0, 1]); decays while hidden.
    class_id, detection_id: of its last detection. occluded_by: track ids of the objects in
      front of it this frame (from the frame's occlusion order for detected tracks, from the
      visible masks over its region for HIDDEN ones).
    """

    track_id: int
    state: TrackState
    amodal: RoiMask
    visible: RoiMask
    mask_index: int | None
    seconds_hidden: float
    age: int
    confidence: float
    class_id: str = ""
    detection_id: str = ""
    occluded_by: tuple[int, ...] = ()


@dataclass(frozen=True)
class TrackerResult:
    """One frame's result.

    tracks: every track to publish (detected first, in mask order, then HIDDEN and RECOVERED by
      track id). untracked: {mask index: reason} of the frame's masks that continue or start no
      track. ended: (track id, EndReason) of the tracks that ended this frame. warnings: one
      line each for the caller to log (stamp resets, max_tracks reached). tracker_s: time of the
      call without the re-prompt; reprompt_s: time spent in `reprompt`.
    """

    tracks: list[TrackOutput]
    untracked: dict[int, str] = field(default_factory=dict)
    ended: list[tuple[int, EndReason]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tracker_s: float = 0.0
    reprompt_s: float = 0.0

    def by_mask(self) -> dict[int, TrackOutput]:
        """{mask index: track} of the detected tracks."""
        return {t.mask_index: t for t in self.tracks if t.mask_index is not None}


__all__ = ["DetectionInfo", "EndReason", "Reprompt", "TrackOutput", "TrackState",
           "TrackerResult"]
