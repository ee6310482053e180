"""A camera sequence in which an object passes fully behind another and comes back: the tracking
part of `make demo` and of the node's tracking test over DDS.

The frames are a procedural 30-fps video with amodal ground truth (`sameo_core.data.
video_scenes`, the videos the tracker is evaluated on: README, "Object permanence (tracking)"),
128 x 128 like the demo model's training scenes: 2-3 static objects placed apart, and one sweep
of an occluder that passes in front of them and stops over one (the target), hiding it whole for
`hide_seconds`. The detector is the simulated one
(`sameo_core.data.simulated_detector`: modal boxes of the visible parts, objects under 10 %
visible dropped, jittered boxes, unstable detector ids) without misses, seeded, so a sequence is
the same every time. `occlusion_sequence` cuts the video to the sweep: `lead` frames before the
object is fully hidden, the hidden spell, and `tail` frames after it is seen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sameo_core.data.simulated_detector import DetectorConfig, SimulatedDetector
from sameo_core.data.video_scenes import VideoConfig, generate_video
from sameo_core.evaluation.tracking import CLASS_NAMES
from sameo_core.geometry import RoiMask
from sameo_core.tracking import TrackState
from sameo_ros.conversions import mono8_to_mask

from .synthetic_frames import Frame

FPS = 30.0
MAX_SEQUENCE_FRAMES = 300  # 10 s at 30 fps; each frame is kept in memory with its masks


@dataclass(frozen=True)
class OcclusionSequence:
    """frames: one Frame per camera frame (its detections; `amodal`/`visible`: the truth of each
    detection); target: the ground-truth id of the object that is hidden; hidden: per frame,
    whether it is fully hidden; target_amodal: its true amodal mask per frame; gt_ids: per
    frame, the ground-truth object of each detection; stamps: seconds, 1/30 s apart."""

    seed: int
    frames: list[Frame]
    target: int
    hidden: list[bool]
    target_amodal: list[np.ndarray]
    gt_ids: list[tuple[int, ...]]
    stamps: list[float]

    @property
    def hidden_frames(self) -> list[int]:
        return [k for k, h in enumerate(self.hidden) if h]


def _frame(rgb: np.ndarray, objects: list, detector: SimulatedDetector) -> tuple[Frame, tuple]:
    detections = detector.detect(
        [(o.track_id, o.category_id, o.amodal, o.visible) for o in objects], CLASS_NAMES)
    by_id = {o.track_id: o for o in objects}
    boxes = np.array([d.box for d in detections], np.float64).reshape(-1, 4)
    frame = Frame(
        rgb=rgb, boxes=boxes, ids=tuple(d.detection_id for d in detections),
        class_ids=tuple(d.class_id for d in detections),
        scores=np.array([d.score for d in detections], np.float64),
        amodal=tuple(by_id[d.gt_track_id].amodal for d in detections),
        visible=tuple(by_id[d.gt_track_id].visible for d in detections),
    )  # fmt: skip
    return frame, tuple(d.gt_track_id for d in detections)


def occlusion_sequence(seed: int, hide_seconds: tuple[float, float] = (0.5, 0.7),
                       lead: int = 8, tail: int = 10) -> OcclusionSequence:  # fmt: skip
    """The sequence of video `seed` (module docstring); ValueError when the video's sweep hides
    no object whole for 10 frames or more (another seed will)."""
    if not 1 <= lead <= 60 or not 1 <= tail <= 60:
        raise ValueError(f"lead and tail must be in 1..60 frames, got {lead}, {tail}")
    config = VideoConfig(num_frames=200, fps=FPS, sweeps=1, hide_seconds=hide_seconds,
                         num_objects=(2, 3), moving_probability=0.0)  # fmt: skip
    video = generate_video(seed, config)
    if not video.sweeps:
        raise ValueError(f"video {seed} has no occluder sweep")
    target = int(video.sweeps[0]["target"])
    hidden = [any(o.track_id == target and o.fully_hidden for o in objects)
              for objects in video.objects]  # fmt: skip
    spell = [k for k, h in enumerate(hidden) if h]
    if len(spell) < 10 or spell[-1] - spell[0] + 1 != len(spell):
        raise ValueError(f"video {seed}: object {target} is not fully hidden for 10 frames "
                         f"in one spell ({len(spell)} frames)")  # fmt: skip
    start, stop = max(spell[0] - lead, 0), min(spell[-1] + 1 + tail, len(hidden))
    if stop - start > MAX_SEQUENCE_FRAMES:
        raise ValueError(f"video {seed}: {stop - start} frames, more than {MAX_SEQUENCE_FRAMES}")
    detector = SimulatedDetector(DetectorConfig(miss_probability=0.0), seed=seed)
    frames, gt_ids, amodal = [], [], []
    for k in range(start, stop):
        frame, ids = _frame(video.frames[k], list(video.objects[k]), detector)
        frames.append(frame)
        gt_ids.append(ids)
        amodal.append(next(o.amodal for o in video.objects[k] if o.track_id == target))
    return OcclusionSequence(seed, frames, target, hidden[start:stop], amodal, gt_ids,
                             [k / FPS for k in range(stop - start)])  # fmt: skip




@dataclass(frozen=True)
class TargetSeen:
    """What one AmodalMaskArray says about the sequence's target: the mask whose amodal mask
    overlaps its true amodal mask best (amodal IoU), its track id and state, its detection id,
    its visible pixels and seconds_hidden."""

    track_id: int
    state: int
    iou: float
    detection_id: str
    visible_pixels: int
    seconds_hidden: float


def target_seen(msg: Any, truth: np.ndarray) -> TargetSeen | None:
    """The target in `msg` (an AmodalMaskArray; `truth`: its true amodal mask, bool [H, W]), or
    None when no mask overlaps it."""
    height, width = truth.shape
    best = None
    for m in msg.masks:
        amodal = RoiMask(mono8_to_mask(m.mask), (m.x_offset, m.y_offset)).paste(height, width)
        union = np.count_nonzero(amodal | truth)
        iou = np.count_nonzero(amodal & truth) / union if union else 0.0
        if iou > 0.0 and (best is None or iou > best.iou):
            visible = int(np.count_nonzero(mono8_to_mask(m.visible_mask)))
            best = TargetSeen(int(m.track_id), int(m.track_state), float(iou), str(m.id),
                              visible, float(m.seconds_hidden))  # fmt: skip
    return best


def permanence(sequence: OcclusionSequence, seen: list[TargetSeen | None],
               min_iou: float = 0.3) -> dict[str, Any]:  # fmt: skip
    """Whether the target kept its track through the hidden spell (the figures of the demo and
    the node test): its track id in the last frame before the spell, the hidden frames in which
    it was reported HIDDEN with that id, the mean amodal IoU of those reports, and the first
    frame after the spell in which it was detected again with that id (None: never)."""
    spell = sequence.hidden_frames
    before = seen[spell[0] - 1] if spell[0] > 0 else None
    track = before.track_id if before is not None and before.iou >= min_iou else 0
    kept = [k for k in spell if (s := seen[k]) is not None and s.iou >= min_iou
            and s.track_id == track and s.state == TrackState.HIDDEN]  # fmt: skip
    back = next((k for k in range(spell[-1] + 1, len(seen)) if (s := seen[k]) is not None
                 and s.iou >= min_iou and s.track_id == track and s.detection_id
                 and s.state in (TrackState.VISIBLE, TrackState.OCCLUDED)), None)  # fmt: skip
    return {"target_track": track, "hidden_frames": len(spell), "reported_hidden": len(kept),
            "hidden_amodal_miou": float(np.mean([seen[k].iou for k in kept])) if kept
            else float("nan"), "back_with_same_id_at": back,
            "kept_frames": kept}  # fmt: skip


__all__ = ["MAX_SEQUENCE_FRAMES", "OcclusionSequence", "TargetSeen", "occlusion_sequence",
           "permanence", "target_seen"]
