"""One camera's amodal tracks in the node: its `AmodalTracker` (sameo_core.tracking), the last 3D
of each track, and the MaskRecords of a tracked frame (README, "ROS 2 node", Tracking).

ROS-free: the node's CameraState (camera_ports.py) and the replay tool each hold one per camera;
the pipeline calls `track` with a frame's masks while the predictor still holds that frame's
image embedding, so that the tracker's re-prompts (RECOVERED) decode on it.

Records (msg/AmodalMask.msg says what each field means per state):
- a detected mask that continues or starts a track gets its id, state and age; when the tracker
  reports the track's kept shape instead of SAMEO's inconsistent completion, the amodal mask is
  that shape plus the mask's visible pixels (a visible pixel stays an amodal pixel);
- a mask the tracker leaves untracked (`TrackerResult.untracked`) keeps track_id 0;
- HIDDEN and RECOVERED tracks follow, by track id, with an empty detection id: HIDDEN with the
  carried amodal mask, an empty visible mask, the detections in front of it and, with depth, the
  last 3D the track had; RECOVERED with the re-prompted masks and their own 3D.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.inference.depth_lifting import Object3D
from sameo_core.inference.occlusion_order import OcclusionOrder
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.tracking import (
    AmodalTracker,
    DetectionInfo,
    TrackerConfig,
    TrackerResult,
    TrackOutput,
    TrackState,
)

from .pipeline import MaskRecord

# lift(masks) -> per mask (its 3D or None, why not: "" when the frame has no depth at all)
Lift = Callable[[list[InstancePrediction]], list[tuple[Object3D | None, str]]]
NO_PROMPT = np.zeros(4)  # a HIDDEN track's prompt_box: it was not prompted


def union(a: RoiMask, b: RoiMask) -> RoiMask:
    """The pixels set in either mask, in the crop spanning both (tight)."""
    if not b.area:
        return a.tight()
    if not a.area:
        return b.tight()
    (ax, ay), (bx, by) = a.offset, b.offset
    (ah, aw), (bh, bw) = a.mask.shape, b.mask.shape
    x0, y0 = min(ax, bx), min(ay, by)
    out = np.zeros((max(ay + ah, by + bh) - y0, max(ax + aw, bx + bw) - x0), bool)
    out[ay - y0 : ay - y0 + ah, ax - x0 : ax - x0 + aw] |= a.mask
    out[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw] |= b.mask
    return RoiMask(out, (x0, y0)).tight()


def detected_record(record: MaskRecord, track: TrackOutput) -> MaskRecord:
    """A detected mask's record with its track (module docstring)."""
    fields: dict = dict(track_id=track.track_id, track_state=int(track.state), age=track.age)
    if track.amodal is not record.amodal:  # the track's kept shape: SAMEO's was inconsistent
        amodal = union(track.amodal, record.visible) if record.visible is not None else (
            track.amodal.tight())  # fmt: skip
        fields.update(amodal=amodal, amodal_box=amodal.box().astype(np.float64),
                      visible_fraction=record.visible.area / amodal.area
                      if record.visible is not None and amodal.area else math.nan)  # fmt: skip
    return replace(record, **fields)


def hidden_record(track: TrackOutput, front: dict[int, MaskRecord], has_visible: bool,
                  object_3d: Object3D | None) -> MaskRecord:  # fmt: skip
    """A HIDDEN track's record: the carried mask, no visible part, the detections in front."""
    amodal = track.amodal.tight()
    shown = [front[t] for t in track.occluded_by if t in front]
    return MaskRecord(
        id="", class_id=track.class_id, detector_score=0.0, score=track.confidence,
        iou=math.nan, prompt_box=NO_PROMPT, amodal_box=amodal.box().astype(np.float64),
        amodal=amodal, visible=RoiMask.empty() if has_visible else None,
        visible_fraction=0.0 if has_visible else math.nan,
        occluded_by=tuple(r.id for r in shown),
        rank=1 + max((r.rank for r in shown), default=0) if has_visible else -1,
        object_3d=object_3d, track_id=track.track_id, track_state=int(TrackState.HIDDEN),
        seconds_hidden=track.seconds_hidden, age=track.age,
    )  # fmt: skip


def recovered_record(track: TrackOutput, mask: InstancePrediction, has_visible: bool,
                     object_3d: Object3D | None, no_3d_reason: str) -> MaskRecord:  # fmt: skip
    """A RECOVERED track's record: the mask SAMEO gave for its predicted amodal box."""
    visible = track.visible if has_visible else None
    return MaskRecord(
        id="", class_id=track.class_id, detector_score=0.0, score=track.confidence,
        iou=float(mask.iou), prompt_box=np.asarray(mask.prompt_box, np.float64),
        amodal_box=track.amodal.box().astype(np.float64), amodal=track.amodal, visible=visible,
        visible_fraction=visible.area / track.amodal.area if visible is not None
        and track.amodal.area else math.nan,
        object_3d=object_3d, no_3d_reason=no_3d_reason, track_id=track.track_id,
        track_state=int(TrackState.RECOVERED), age=track.age,
    )  # fmt: skip


@dataclass
class TrackedFrame:
    """A frame's records with their tracks, and the tracker's result (warnings, ended tracks,
    time)."""

    records: list[MaskRecord]
    result: TrackerResult


class CameraTracks:
    """The tracks of one camera. `track` runs in the worker; `configure` and `reset` may come
    from another thread (parameters, lifecycle): a new configuration applies from the next
    frame, a reset waits for the frame in progress."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.tracker = AmodalTracker(config)
        self._pending: TrackerConfig | None = None
        self._last_3d: dict[int, Object3D] = {}  # track id -> its last 3D (depth enabled)
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        """Tracks alive (detected, hidden, recovered or about to be removed)."""
        return self.tracker.num_tracks

    def configure(self, config: TrackerConfig) -> None:
        """New thresholds, from the next frame on (the tracks go on)."""
        self._pending = config

    def reset(self) -> int:
        """End every track (ids keep counting up: none is reused); returns how many ended."""
        with self._lock:
            ended = self.tracker.reset()
            self._last_3d.clear()
            return len(ended)

    def track(
        self, stamp_s: float, masks: Sequence[InstancePrediction], order: OcclusionOrder | None,
        detections: Sequence[DetectionInfo], image_size: tuple[int, int],
        records: list[MaskRecord], reprompt: Callable[[np.ndarray], list[InstancePrediction]],
        has_visible: bool, lift: Lift | None = None,
    ) -> TrackedFrame:  # fmt: skip
        """One frame through the tracker: `records` (one per mask of `masks`, in order) with
        their tracks, then the HIDDEN and RECOVERED tracks (module docstring). `reprompt` decodes
        boxes on this frame's image embedding; `lift` gives masks their 3D (depth enabled).
        Invalid inputs raise the tracker's ValueError/TypeError and leave the tracks as they
        were."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                self.tracker.config = pending
            found: list[InstancePrediction] = []

            def ask(boxes: np.ndarray) -> list[InstancePrediction]:
                answer = reprompt(boxes)
                found.extend(answer)
                return answer

            result = self.tracker.update(stamp_s, masks, order, detections, image_size, ask)
            for track_id, _ in result.ended:
                self._last_3d.pop(track_id, None)
            return TrackedFrame(self._records(records, result, found, has_visible, lift), result)

    def _records(self, records: list[MaskRecord], result: TrackerResult,
                 found: list[InstancePrediction], has_visible: bool, lift: Lift | None,
                 ) -> list[MaskRecord]:  # fmt: skip
        by_mask = result.by_mask()
        out, of_track = [], {}
        for k, record in enumerate(records):
            track = by_mask.get(k)
            if track is not None:
                record = of_track[track.track_id] = detected_record(record, track)
                if record.object_3d is not None:
                    self._last_3d[track.track_id] = record.object_3d
            out.append(record)
        rest = [t for t in result.tracks if t.mask_index is None]
        recovered = {t.track_id: next(m for m in found if m.amodal is t.amodal)
                     for t in rest if t.state == TrackState.RECOVERED}  # fmt: skip
        lifted = dict(zip(recovered, lift(list(recovered.values())))) if lift and recovered else {}
        for t in rest:
            if t.state == TrackState.HIDDEN:
                out.append(hidden_record(t, of_track, has_visible, self._last_3d.get(t.track_id)))
                continue
            object_3d, why = lifted.get(t.track_id, (None, ""))
            if object_3d is not None:
                self._last_3d[t.track_id] = object_3d
            out.append(recovered_record(t, recovered[t.track_id], has_visible, object_3d, why))
        return out
