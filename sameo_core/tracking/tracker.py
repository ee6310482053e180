"""Amodal tracks with object permanence: one `AmodalTracker` per camera, one `update` per frame.

A pure function of each frame's inputs plus its own state (no clock, no model, no ROS): the
caller passes the frame's stamp, SAMEO's masks, the frame's occlusion order, what the detector
said about each mask and a `reprompt` callable that decodes boxes on the frame's current image
embedding. README, "Object permanence (tracking)", gives the rules; in short, per frame:

1. Stamps. The first frame starts the clock. A stamp before the previous one (a bag loop, a
   /clock reset) or more than `max_stamp_jump` s after it ends every track ("reset") with a
   warning and the frame starts afresh (ids are never reused). A repeated stamp is processed
   with no time elapsed (motion and hidden time stand still), with a warning.
2. Prediction. Each track's motion model (motion.py) moves its amodal box to the stamp; its
   amodal shape (the mask of its most complete recent view) is carried to the box's centre.
3. Association (association.py). The frame's masks are matched to the predicted masks by
   amodal-mask IoU (box-IoU fallback, class gate, re-appearance containment, detector-id
   prior) with one optimal assignment. A matched track is VISIBLE or OCCLUDED by the mask's
   visible fraction; a HIDDEN track matched again keeps its id (re-appearance).
4. New tracks from the unmatched masks, unless a mask duplicates a tracked one or `max_tracks`
   tracks live (then it stays untracked, with a warning).
5. Unmatched tracks. A predicted mask mostly outside the image ends the track ("exited"). A
   region covered (≥ `hidden_cover`) by the frame's visible masks — objects in front of it, by
   occlusion_order's rule that the object seen in an overlap is in front — makes the track
   HIDDEN: it keeps its carried mask, an empty visible mask and a confidence falling to 0 at
   `hidden_timeout`, when it ends ("timeout"). Otherwise SAMEO is re-prompted with the
   predicted amodal box (one batched `reprompt` call for all such tracks): a mask with
   predicted IoU ≥ `recover_min_iou` and IoU ≥ `recover_min_overlap` with the prediction makes
   it RECOVERED; a region that stays visible without the object for `removed_after` frames
   ends it ("removed").

Interface for the ROS node (per camera, per frame)::

    tracker = AmodalTracker(TrackerConfig(hidden_timeout=5.0))
    result = tracker.update(stamp_s, prediction.masks, order, detections, (height, width),
                            reprompt=lambda boxes: predictor.predict(boxes).masks)
    for track in result.tracks:          # detected ones first (mask_index set), then HIDDEN /
        track.track_id, track.state      # RECOVERED; publish all in the same AmodalMaskArray
        track.amodal, track.visible      # RoiMask; visible is empty when HIDDEN
        track.seconds_hidden, track.age, track.confidence, track.occluded_by
    result.untracked                     # {mask index: reason}: publish with track_id 0
    result.warnings                      # log them (throttled); result.tracker_s for FrameStats

Bad input: a non-finite stamp, an image size that is not two positive integers ≤ 32768, masks
that are not `InstancePrediction`s, detections that do not cover every mask's prompt index, or
an order of another length raise ValueError/TypeError naming the problem and leave the tracks
untouched. Within a valid frame, a mask with a non-finite score or box is left untracked with
its reason; so are masks beyond `max_masks`. An exception raised by `reprompt` is reported as a
warning and no track is recovered that frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.inference.occlusion_order import OcclusionOrder
from sameo_core.inference.predictor import InstancePrediction

from .association import Side, affinity_matrix, assign
from .mask_overlap import clear, intersection, mask_iou, overlap_slices, under
from .motion import BoxMotion
from .shape_memory import ShapeMemory
from .track_states import (
    DetectionInfo,
    EndReason,
    Reprompt,
    TrackerResult,
    TrackOutput,
    TrackState,
)
from .tracker_config import TrackerConfig

MAX_IMAGE_SIDE = 32768
MIN_FRONT_OVERLAP = 4  # px of visible mask over a hidden track's region to be "in front" of it
                       # (OrderConfig.min_overlap's default)

NON_FINITE_SCORE = "non-finite detector score"
NON_FINITE_BOX = "non-finite box"
EMPTY_MASK = "empty amodal mask"
TOO_MANY_MASKS = "more masks than max_masks"
DUPLICATE = "duplicate of a tracked mask"
FULL = "max_tracks reached"


@dataclass
class _Track:
    track_id: int
    motion: BoxMotion
    memory: ShapeMemory  # the averaged amodal shape, relative to the motion model's centre
    class_id: str
    detection_id: str
    first_frame: int
    confidence: float
    last_seen: float = 0.0  # stamp of the last frame it was detected or recovered
    hidden_since: float | None = None
    hidden_confidence: float = 0.0
    missing: int = 0  # consecutive frames not detected, not covered, not recovered
    hits: int = 1  # frames in which it was detected
    seen_whole: bool = False  # detected VISIBLE in the previous frame
    disagree: int = 0  # consecutive frames seen whole with an inconsistent mask
    predicted: RoiMask | None = None  # this frame's carried amodal mask (a tight crop)
    predicted_box: tuple[int, int, int, int] = (0, 0, 0, 0)  # its xyxy box
    inside_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # that box cut at
    # the image (zero size: outside)
    inside_area: int = 0  # its pixels inside the image
    at_border: bool = False  # whether the predicted box reaches the image border (or beyond)
    # the predicted mask cut at the image as a tight crop, its box and area (for association
    # when at the border), kept with the (shape version, offset, image size) it was cut for:
    # a static object's carried mask stays where it is, frame after frame
    _cut: tuple[tuple[int, int, int, int, int], RoiMask, np.ndarray, int] | None = None

    def predict(self, dt: float, height: int, width: int) -> None:
        """Move the motion model by dt and draw the carried mask there."""
        self.motion.predict(dt)
        predicted = self.predicted = self.memory.at(self.motion.centre)
        x0, y0 = predicted.offset
        h, w = predicted.mask.shape
        x1, y1 = x0 + w, y0 + h
        self.predicted_box = (x0, y0, x1, y1)
        self.inside_box = _clip_box(x0, y0, x1, y1, height, width)
        self.at_border = x0 <= 0 or y0 <= 0 or x1 >= width or y1 >= height
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            self.inside_area = self.memory.area
        else:
            self.inside_area = self.cut(height, width)[2]

    def cut(self, height: int, width: int) -> tuple[RoiMask, np.ndarray, int]:
        """(the predicted mask cut at the image as a tight crop, its xyxy box, its area)."""
        key = (self.memory.version, *self.predicted.offset, height, width)
        if self._cut is None or self._cut[0] != key:
            inside = self.predicted.inside(height, width).tight()
            self._cut = (key, inside, inside.box(), inside.area)
        return self._cut[1:]

    def complete(self, amodal: RoiMask, box: np.ndarray, min_completeness: float, height: int,
                 width: int) -> bool:
        """Whether `amodal` is a consistent amodal mask of this track: inside the image its box
        is at least min_completeness × and at most 1 / min_completeness × as wide and as high
        as the kept shape's where it is now (an object does not change size behind an
        occluder). SAMEO's incomplete masks lack the side behind the occluder; its over-
        complete ones spill onto the occluder. A kept shape or a mask cut at the image border
        may grow (an object coming into view)."""
        px0, py0, px1, py1 = self.inside_box
        if px1 <= px0 or py1 <= py0:
            return bool(amodal.area)
        # boxes cut at the image (the box of the part inside the image, up to the corners)
        x0, y0, x1, y1 = _clip_box(*box.tolist(), height, width)
        at_border = (px0 <= 0 or py0 <= 0 or px1 >= width or py1 >= height
                     or x0 <= 0 or y0 <= 0 or x1 >= width or y1 >= height)  # fmt: skip
        high = math.inf if at_border else 1.0 / min_completeness
        return (min_completeness <= (x1 - x0) / (px1 - px0) <= high
                and min_completeness <= (y1 - y0) / (py1 - py0) <= high)  # fmt: skip

    def observe(self, amodal: RoiMask, box: np.ndarray, share: float, config: TrackerConfig,
                unseen: RoiMask | None = None) -> None:
        """A consistent amodal mask seen this frame with visible share `share`: it joins the
        shape memory (`unseen`: the pixels other objects hide) and moves the motion model when
        the object is VISIBLE, or has never been seen VISIBLE. A partly hidden object's box is
        SAMEO's completion of the hidden side, biased towards what is seen: followed, it gives
        the object a velocity along the occluder's edge that carries it off when it is then
        fully hidden (measured on the procedural videos; README, "Object permanence")."""
        if share >= config.visible_threshold or self.memory.share < config.visible_threshold:
            self.motion.update(box, share)
        self.memory.add(amodal, self.motion.centre, share, config.visible_threshold,
                        config.shape_rate, unseen)


def _clip_box(x0: float, y0: float, x1: float, y1: float, height: int, width: int
              ) -> tuple[float, float, float, float]:
    """An xyxy box cut at the image (plain floats: cheaper than np.clip)."""
    x0 = float(x0) if x0 > 0.0 else 0.0
    y0 = float(y0) if y0 > 0.0 else 0.0
    x1 = float(x1) if x1 > 0.0 else 0.0
    y1 = float(y1) if y1 > 0.0 else 0.0
    return (x0 if x0 < width else width, y0 if y0 < height else height,
            x1 if x1 < width else width, y1 if y1 < height else height)


class _Counts:
    """How many of some masks cover each image pixel, kept on the box of their union inside
    the image only (a frame-size int16 image cost more to clear than the masks to add)."""

    def __init__(self, masks: Sequence[RoiMask], height: int, width: int) -> None:
        x0 = y0 = x1 = y1 = 0
        if masks:
            x0 = max(min(v.offset[0] for v in masks), 0)
            y0 = max(min(v.offset[1] for v in masks), 0)
            x1 = min(max(v.offset[0] + v.mask.shape[1] for v in masks), width)
            y1 = min(max(v.offset[1] + v.mask.shape[0] for v in masks), height)
        self.origin = (x0, y0)
        self.counts = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.int16)
        for v in masks:
            window = overlap_slices(self.origin, self.counts.shape, v.offset, v.mask.shape)
            if window is not None:
                self.counts[window[0]] += v.mask[window[1]]

    def under(self, region: RoiMask) -> np.ndarray:
        """The counts under `region`, int16 of its shape (0 outside the image): the frame-size
        image's `region.crop(counts)`."""
        x, y = region.offset
        return RoiMask(region.mask, (x - self.origin[0], y - self.origin[1])).crop(self.counts)


def _finite(values: np.ndarray) -> bool:
    """np.isfinite(values).all(), in plain Python for a box (4 numbers: cheaper)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiu":
        return all(map(math.isfinite, values.tolist()))
    return bool(np.isfinite(values).all())


def _share(visible_fraction: float | None) -> float:
    """A visible fraction as a number in [0, 1] (1 when unknown: no modal head)."""
    if visible_fraction is None or not math.isfinite(visible_fraction):
        return 1.0
    return min(max(float(visible_fraction), 0.0), 1.0)


def _clamp01(value: float) -> float:
    return min(max(float(value), 0.0), 1.0) if math.isfinite(value) else 0.0


class AmodalTracker:
    """Tracks of one camera (module docstring)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._frame = 0
        self._stamp: float | None = None

    @property
    def num_tracks(self) -> int:
        """Live tracks (detected, hidden, recovered or about to be removed)."""
        return len(self._tracks)

    def reset(self) -> list[tuple[int, EndReason]]:
        """End every track (ids keep counting up); returns the ended tracks."""
        ended = [(tid, EndReason.RESET) for tid in sorted(self._tracks)]
        self._tracks.clear()
        self._stamp = None
        return ended

    # ---- validation -----------------------------------------------------------------------
    def _check(self, stamp_s: float, masks: Sequence[InstancePrediction],
               order: OcclusionOrder | None, detections: Sequence[DetectionInfo],
               image_size: tuple[int, int]) -> tuple[float, tuple[int, int]]:
        try:
            stamp = float(stamp_s)
        except (TypeError, ValueError):
            raise TypeError(f"stamp_s must be a number of seconds, got {stamp_s!r}") from None
        if not math.isfinite(stamp):
            raise ValueError(f"stamp_s must be finite, got {stamp}")
        if len(image_size) != 2 or not all(
            isinstance(v, (int, np.integer)) and 0 < v <= MAX_IMAGE_SIDE for v in image_size
        ):
            raise ValueError(f"image_size must be (height, width), positive integers ≤ "
                             f"{MAX_IMAGE_SIDE}, got {image_size!r}")
        for k, m in enumerate(masks):
            if not isinstance(m, InstancePrediction):
                raise TypeError(f"masks[{k}] is a {type(m).__name__}, not an InstancePrediction")
            if not 0 <= m.index < len(detections):
                raise ValueError(f"masks[{k}] is of prompt {m.index} but detections has "
                                 f"{len(detections)} entries")
        for k, d in enumerate(detections):
            if not isinstance(d, DetectionInfo):
                raise TypeError(f"detections[{k}] is a {type(d).__name__}, not a DetectionInfo")
        if order is not None and len(order.rank) != len(masks):
            raise ValueError(f"order is of {len(order.rank)} masks, the frame has {len(masks)}")
        return stamp, (int(image_size[0]), int(image_size[1]))

    def _clock(self, stamp: float, warnings: list[str],
               ended: list[tuple[int, EndReason]]) -> float:
        """Seconds since the previous frame (0 on a first or repeated frame); resets the tracks
        when the stamp goes backwards or jumps."""
        previous = self._stamp
        self._stamp = stamp
        if previous is None:
            return 0.0
        dt = stamp - previous
        if dt < 0 or dt > self.config.max_stamp_jump:
            what = "went backwards" if dt < 0 else "jumped forward"
            count = len(self._tracks)
            ended.extend(self.reset())
            self._stamp = stamp
            warnings.append(f"stamp {what} by {abs(dt):.3f} s ({previous:.3f} -> {stamp:.3f}): "
                            f"{count} tracks reset")
            return 0.0
        if dt == 0:
            warnings.append(f"duplicate stamp {stamp:.3f}: processed with no time elapsed")
        return dt

    # ---- the frame ------------------------------------------------------------------------
    def update(
        self, stamp_s: float, masks: Sequence[InstancePrediction],
        order: OcclusionOrder | None, detections: Sequence[DetectionInfo],
        image_size: tuple[int, int], reprompt: Reprompt | None = None,
    ) -> TrackerResult:
        """One frame (module docstring). `masks`: the frame's `Prediction.masks`; `order`: their
        `occlusion_order` (or None); `detections[m.index]`: what the detector said about the
        prompt of mask m; `image_size`: (height, width); `reprompt`: None disables RECOVERED."""
        start = time.perf_counter()
        stamp, (height, width) = self._check(stamp_s, masks, order, detections, image_size)
        cfg = self.config
        warnings: list[str] = []
        ended: list[tuple[int, EndReason]] = []
        untracked: dict[int, str] = {}
        dt = self._clock(stamp, warnings, ended)
        self._frame += 1

        # 2. prediction
        tracks = list(self._tracks.values())
        for track in tracks:
            track.predict(dt, height, width)

        # masks the frame offers
        valid: list[int] = []
        for k, m in enumerate(masks):
            if k >= cfg.max_masks:
                untracked[k] = TOO_MANY_MASKS
            elif not math.isfinite(detections[m.index].score):
                untracked[k] = NON_FINITE_SCORE
            elif not (_finite(m.prompt_box) and _finite(m.box)):
                untracked[k] = NON_FINITE_BOX
            else:
                valid.append(k)
        if any(k == TOO_MANY_MASKS for k in untracked.values()):
            warnings.append(f"{len(masks)} masks, more than max_masks={cfg.max_masks}: "
                            f"the rest are untracked")

        # 3. association
        track_sides = [self._side(t, height, width) for t in tracks]
        mask_sides = []
        for k in valid:
            m, det = masks[k], detections[masks[k].index]
            area = m.amodal.area
            box = m.box if area else m.prompt_box
            mask_sides.append(Side(m.amodal, box, m.visible, det.class_id, det.detection_id,
                                   area=area))
        affinity = affinity_matrix(track_sides, mask_sides, cfg.min_affinity, cfg.id_prior)
        pairs = assign(affinity, cfg.min_affinity)
        mask_track: dict[int, _Track] = {}
        incomplete: set[int] = set()  # masks whose track reports its carried shape
        shares: dict[int, float] = {}  # visible share of each mask's object
        cover = self._cover(masks, valid, height, width) if pairs else None
        for ti, vi in pairs:
            k, track = valid[vi], tracks[ti]
            mask_track[k] = track
            shares[k], unseen = self._visible_share(track, masks[k], cover)
            if not self._observe(track, masks[k], detections[masks[k].index], shares[k],
                                 unseen, (height, width)):
                incomplete.add(k)

        # 4. new tracks
        full_warned = False
        for k in valid:
            if k in mask_track:
                continue
            m = masks[k]
            if not m.amodal.area:
                untracked[k] = EMPTY_MASK
                continue
            if any(mask_iou(m.amodal, masks[j].amodal) >= cfg.duplicate_iou for j in mask_track):
                untracked[k] = DUPLICATE
                continue
            if len(self._tracks) >= cfg.max_tracks:
                untracked[k] = FULL
                if not full_warned:
                    warnings.append(f"max_tracks={cfg.max_tracks} tracks live: new objects "
                                    f"are left untracked")
                    full_warned = True
                continue
            mask_track[k] = self._start(m, detections[m.index])

        # 5. unmatched tracks
        matched = {id(t) for t in mask_track.values()}
        hidden: list[TrackOutput] = []
        to_reprompt: list[_Track] = []
        for track in tracks:
            if id(track) in matched:
                continue
            predicted, inside = track.predicted, track.inside_area
            if inside < cfg.min_inside * max(track.memory.area, 1):
                ended.append(self._end(track, EndReason.EXITED))
                continue
            if cover is None:
                cover = self._cover(masks, valid, height, width)
            if track.hits < cfg.min_hits:  # tentative: re-prompted, never carried hidden
                to_reprompt.append(track)
                continue
            covered = int(np.count_nonzero(predicted.mask & under(predicted, cover)))
            if covered >= cfg.hidden_cover * inside:
                output = self._hide(track, stamp, masks, valid, mask_track)
                if output is None:
                    ended.append(self._end(track, EndReason.TIMEOUT))
                else:
                    hidden.append(output)
            else:
                to_reprompt.append(track)

        reprompt_s = 0.0
        recovered: list[TrackOutput] = []
        if to_reprompt:
            found, reprompt_s = self._reprompt(to_reprompt, reprompt, warnings)
            # What the re-prompted masks show is seen too, and hides what lies behind it (an
            # occluder the detector missed this frame still hides the object behind it). A
            # re-prompted mask whose visible part lies mostly under what the other objects
            # show is theirs, not its track's (SAMEO prompted over an occluder segments the
            # occluder); a track whose region the others cover is HIDDEN, not RECOVERED.
            seen = [None if m is None else (m.visible if m.visible is not None else m.amodal)
                    for m in found]  # fmt: skip
            counts = _Counts([v for v in seen if v is not None], height, width)
            for i, (track, m) in enumerate(zip(to_reprompt, found)):
                own = seen[i]
                if own is not None and own.area:
                    shown = under(own, cover) | (counts.under(own) > own.mask)
                    if np.count_nonzero(own.mask & shown) >= cfg.hidden_cover * own.area:
                        m = None
                predicted, inside = track.predicted, track.inside_area
                own_pixels = predicted.aligned(own) if own is not None else False
                others = under(predicted, cover) | (counts.under(predicted) > own_pixels)
                if m is not None and own is not None:
                    others &= ~own_pixels
                others &= predicted.mask
                tentative = track.hits < cfg.min_hits
                if not tentative and int(np.count_nonzero(others)) >= cfg.hidden_cover * inside:
                    hidden_output = self._hide(track, stamp, masks, valid, mask_track)
                    if hidden_output is None:
                        ended.append(self._end(track, EndReason.TIMEOUT))
                    else:
                        hidden.append(hidden_output)
                elif m is not None:
                    recovered.append(self._recovered(track, m, height, width))
                else:
                    track.missing += 1
                    if tentative or track.missing >= cfg.removed_after:
                        ended.append(self._end(track, EndReason.REMOVED))

        for track in tracks:
            track.seen_whole = False
        # outputs: detected tracks in mask order, then hidden and recovered by id
        track_of_mask = {k: t.track_id for k, t in mask_track.items()}
        detected = []
        for k in sorted(mask_track):
            track, m = mask_track[k], masks[k]
            front = () if order is None else tuple(
                track_of_mask[j] for j in order.occluded_by[k] if j in track_of_mask)
            share = shares.get(k, _share(m.visible_fraction))
            state = TrackState.VISIBLE if share >= cfg.visible_threshold else TrackState.OCCLUDED
            amodal = m.amodal
            if k in incomplete:
                state, amodal = TrackState.OCCLUDED, track.predicted
            track.seen_whole = state == TrackState.VISIBLE
            detected.append(TrackOutput(
                track.track_id, state, amodal, m.visible if m.visible is not None else
                RoiMask.empty(), k, 0.0, self._frame - track.first_frame, track.confidence,
                track.class_id, track.detection_id, front,
            ))
        rest = sorted(hidden + recovered, key=lambda t: t.track_id)
        total = time.perf_counter() - start
        return TrackerResult(detected + rest, untracked, ended, warnings,
                             max(total - reprompt_s, 0.0), reprompt_s)

    # ---- steps ----------------------------------------------------------------------------
    @staticmethod
    def _side(track: _Track, height: int, width: int) -> Side:
        """The track's side of association: its predicted amodal mask (cut at the image when it
        reaches the border, where an entering object grows from)."""
        predicted, partial = track.predicted, not track.seen_whole
        if not track.at_border:
            return Side(predicted, track.predicted_box, None, track.class_id,
                        track.detection_id, partial=partial, area=track.memory.area)
        inside, box, area = track.cut(height, width)
        if not area:
            return Side(predicted, track.predicted_box, None, track.class_id,
                        track.detection_id, partial=partial, area=track.memory.area)
        return Side(inside, box, None, track.class_id, track.detection_id,
                    at_border=True, partial=partial, area=area)

    @staticmethod
    def _visible_share(track: _Track, m: InstancePrediction, cover: np.ndarray
                       ) -> tuple[float, RoiMask]:
        """The visible share of a detected track's object and the pixels of its predicted
        region that other objects' visible masks cover (those objects are in front of it there:
        occlusion_order's rule). The share is SAMEO's visible fraction, but no more than the
        part of the predicted region those objects leave free: a mask that SAMEO completed
        only as far as the box of a sliver has a visible fraction that says "fully visible"."""
        share = _share(m.visible_fraction)
        predicted, area = track.predicted, track.inside_area
        if not area:
            return share, RoiMask.empty()
        others = predicted.mask & under(predicted, cover)
        if m.visible is not None:  # its own visible pixels are not others'
            clear(others, predicted.offset, m.visible)
        covered = int(np.count_nonzero(others))
        if not covered:
            return share, RoiMask.empty()
        return min(share, 1.0 - covered / area), RoiMask(others, predicted.offset)

    def _observe(self, track: _Track, m: InstancePrediction, det: DetectionInfo,
                 share: float, unseen: RoiMask, image_size: tuple[int, int]) -> bool:
        """Continue `track` with mask `m`; False when `m` is an incomplete amodal mask (it
        neither moves the track nor replaces its shape)."""
        cfg = self.config
        complete = track.complete(m.amodal, m.box, cfg.min_completeness, *image_size)
        # An object seen whole (nothing covers it) whose masks keep disagreeing with the
        # carried shape for `relearn_after` frames: the shape is what is wrong (learnt from bad
        # views); it starts again from this view.
        track.disagree = track.disagree + 1 if (
            not complete and share >= cfg.visible_threshold) else 0
        if cfg.relearn_after and track.disagree >= cfg.relearn_after:
            track.motion = BoxMotion(m.box, cfg.motion, cfg.position_noise,
                                     cfg.acceleration_noise)
            track.memory = ShapeMemory(m.amodal, track.motion.centre, share)
            track.disagree, complete = 0, True
        elif complete:
            track.observe(m.amodal, m.box, share, cfg, unseen)
        track.confidence = _clamp01(m.score)
        if det.class_id:
            track.class_id = det.class_id
        track.detection_id = det.detection_id
        track.hidden_since, track.missing, track.last_seen = None, 0, self._stamp
        track.hits += 1
        return complete

    def _start(self, m: InstancePrediction, det: DetectionInfo) -> _Track:
        cfg = self.config
        motion = BoxMotion(m.box, cfg.motion, cfg.position_noise, cfg.acceleration_noise)
        track = _Track(
            track_id=self._next_id, motion=motion,
            memory=ShapeMemory(m.amodal, motion.centre, _share(m.visible_fraction)),
            class_id=det.class_id, detection_id=det.detection_id, first_frame=self._frame,
            confidence=_clamp01(m.score), last_seen=self._stamp,
        )
        self._next_id += 1
        self._tracks[track.track_id] = track
        return track

    def _end(self, track: _Track, reason: EndReason) -> tuple[int, EndReason]:
        del self._tracks[track.track_id]
        return track.track_id, reason

    @staticmethod
    def _cover(masks: Sequence[InstancePrediction], valid: list[int], height: int,
               width: int) -> np.ndarray:
        """The union of the frame's visible masks (amodal masks without a modal head)."""
        cover = np.zeros((height, width), bool)
        for k in valid:
            seen = masks[k].visible if masks[k].visible is not None else masks[k].amodal
            x0, y0 = seen.offset
            h, w = seen.mask.shape
            if x0 >= 0 and y0 >= 0 and x0 + w <= width and y0 + h <= height:
                cover[y0 : y0 + h, x0 : x0 + w] |= seen.mask
            else:
                rows, cols, mask_rows, mask_cols = seen.window(height, width)
                cover[rows, cols] |= seen.mask[mask_rows, mask_cols]
        return cover

    def _hide(self, track: _Track, stamp: float, masks: Sequence[InstancePrediction],
              valid: list[int], mask_track: dict[int, _Track]) -> TrackOutput | None:
        """The HIDDEN output of a covered track, None when it has been hidden too long."""
        if track.hidden_since is None:  # hidden since it was last seen
            track.hidden_since, track.hidden_confidence = track.last_seen, track.confidence
        seconds = stamp - track.hidden_since
        timeout = self.config.hidden_timeout
        if seconds > timeout:
            return None
        track.missing = 0
        predicted = track.predicted
        front = sorted({
            mask_track[k].track_id for k in valid if k in mask_track
            and masks[k].visible is not None
            and intersection(masks[k].visible, predicted) >= MIN_FRONT_OVERLAP
        })  # fmt: skip
        confidence = track.hidden_confidence * (1.0 - seconds / timeout)
        return TrackOutput(track.track_id, TrackState.HIDDEN, predicted, RoiMask.empty(), None,
                           seconds, self._frame - track.first_frame, confidence,
                           track.class_id, "", tuple(front))

    def _reprompt(self, tracks: list[_Track], reprompt: Reprompt | None, warnings: list[str]
                  ) -> tuple[list[InstancePrediction | None], float]:
        """Re-prompt SAMEO with the tracks' predicted amodal boxes (one call): per track the
        mask that passes the thresholds (predicted IoU, overlap with the prediction), else
        None; and the time the call took."""
        found: list[InstancePrediction | None] = [None] * len(tracks)
        if reprompt is None:
            return found, 0.0
        cfg = self.config
        boxes = np.array([t.predicted_box for t in tracks], np.float64)
        start = time.perf_counter()
        try:
            masks = {m.index: m for m in reprompt(boxes)}
        except Exception as error:  # the caller's decoder: report, recover nothing
            warnings.append(f"reprompt failed, no track recovered: {type(error).__name__}: "
                            f"{error}")
            return found, time.perf_counter() - start
        seconds = time.perf_counter() - start
        for i, track in enumerate(tracks):
            m = masks.get(i)
            if m is None or not m.amodal.area or not math.isfinite(m.iou):
                continue
            if m.iou >= cfg.recover_min_iou and (
                mask_iou(m.amodal, track.predicted) >= cfg.recover_min_overlap
            ):
                found[i] = m
        return found, seconds

    def _recovered(self, track: _Track, m: InstancePrediction, height: int, width: int
                   ) -> TrackOutput:
        """Continue `track` with its re-prompted mask `m`: the RECOVERED output."""
        cfg = self.config
        if track.complete(m.amodal, m.box, cfg.min_completeness, height, width):
            track.observe(m.amodal, m.box, _share(m.visible_fraction), cfg)
        track.confidence = _clamp01(m.iou)
        track.hidden_since, track.missing, track.last_seen = None, 0, self._stamp
        return TrackOutput(
            track.track_id, TrackState.RECOVERED, m.amodal,
            m.visible if m.visible is not None else RoiMask.empty(), None, 0.0,
            self._frame - track.first_frame, track.confidence, track.class_id, "",
        )


__all__ = ["AmodalTracker", "MAX_IMAGE_SIDE"]
