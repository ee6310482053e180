"""AmodalTracker: states, permanence through full occlusion, re-prompting, removal, and every
documented outcome of bad input (README, "Object permanence (tracking)")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.tracking import (
    AmodalTracker,
    DetectionInfo,
    EndReason,
    TrackerConfig,
    TrackState,
)

H, W = 96, 128
DT = 1 / 30


def rect(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return m


def instance(index: int, amodal: np.ndarray, visible: np.ndarray | None = None,
             score: float = 0.9, iou: float = 0.9) -> InstancePrediction:
    visible = amodal if visible is None else visible & amodal
    a, v = RoiMask.from_full(amodal), RoiMask.from_full(visible)
    box = a.box()
    return InstancePrediction(
        index=index, amodal=a, iou=iou, score=score, prompt_box=v.box().astype(np.float32),
        box=box.astype(np.float32), visible=v, hidden=a.subtract(v), visible_iou=iou,
        visible_fraction=v.area / a.area if a.area else float("nan"))


def frame(objects: list[tuple[np.ndarray, np.ndarray | None]], ids: list[str] | None = None,
          classes: list[str] | None = None
          ) -> tuple[list[InstancePrediction], list[DetectionInfo]]:
    masks = [instance(k, a, v) for k, (a, v) in enumerate(objects)]
    dets = [DetectionInfo(ids[k] if ids else "", classes[k] if classes else "shape", 0.9)
            for k in range(len(objects))]  # fmt: skip
    return masks, dets


def step(tracker: AmodalTracker, t: int, objects, reprompt=None, **kw):
    masks, dets = frame(objects, **kw)
    order = occlusion_order([m.amodal for m in masks], [m.visible for m in masks]) if masks \
        else None
    return tracker.update(t * DT, masks, order, dets, (H, W), reprompt)


OBJECT = rect(40, 30, 64, 54)  # static 24 x 24


def occluder_at(x: int) -> np.ndarray:
    return rect(x, 10, x + 40, 80)  # 40 px wide, hides OBJECT fully at x in [24, 40]


def scene(x: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """OBJECT behind an occluder at x; the object is left out when under 10 % is visible (the
    detector drops it)."""
    occ = occluder_at(x)
    visible = OBJECT & ~occ
    objects = []
    if visible.sum() >= 0.1 * OBJECT.sum():
        objects.append((OBJECT, visible))
    if occ.any():
        objects.append((occ, None))
    return objects


def by_mask_or_id(result, track_id):
    return next(t for t in result.tracks if t.track_id == track_id)


def test_object_stays_hidden_with_its_id_and_comes_back_with_it():
    tracker = AmodalTracker()
    xs = [-60] * 5 + list(range(-40, 32, 4)) + [32] * 20 + list(range(32, 130, 4))
    first = step(tracker, 0, scene(xs[0]))
    object_id = next(t.track_id for t in first.tracks if t.mask_index == 0)
    seen_states, hidden_frames = [], 0
    for t, x in enumerate(xs[1:], 1):
        result = step(tracker, t, scene(x))
        track = by_mask_or_id(result, object_id)
        seen_states.append(track.state)
        if track.state == TrackState.HIDDEN:
            hidden_frames += 1
            assert track.visible.area == 0 and track.mask_index is None
            assert track.seconds_hidden > 0 and track.confidence < 0.9
            iou = (track.amodal.paste(H, W) & OBJECT).sum() / (track.amodal.paste(H, W)
                                                                 | OBJECT).sum()
            assert iou > 0.9  # the carried mask stays on the static object
            assert track.occluded_by  # the occluder's track id
        assert track.track_id >= 1
    assert hidden_frames >= 20
    assert seen_states[0] == TrackState.VISIBLE and seen_states[-1] == TrackState.VISIBLE
    assert TrackState.OCCLUDED in seen_states


def test_hidden_confidence_decays_and_track_times_out():
    tracker = AmodalTracker(TrackerConfig(hidden_timeout=0.5))
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    confidences, ended = [], []
    for t in range(5, 40):
        result = step(tracker, t, [(occluder_at(30), None)])
        confidences += [x.confidence for x in result.tracks if x.state == TrackState.HIDDEN]
        ended += result.ended
    assert confidences == sorted(confidences, reverse=True) and confidences[-1] < 0.1
    assert (1, EndReason.TIMEOUT) in ended


def test_object_removed_when_its_region_is_seen_without_it():
    tracker = AmodalTracker(TrackerConfig(removed_after=2))
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    first = step(tracker, 5, [])
    assert first.tracks == [] and first.ended == []  # one frame of grace
    second = step(tracker, 6, [])
    assert second.ended == [(1, EndReason.REMOVED)]
    assert tracker.num_tracks == 0


def reprompt_with(mask: np.ndarray | None, iou: float = 0.9):
    calls = []

    def reprompt(boxes: np.ndarray) -> list[InstancePrediction]:
        calls.append(np.array(boxes))
        return [] if mask is None else [instance(k, mask, iou=iou) for k in range(len(boxes))]
    return reprompt, calls


def test_missed_detection_is_recovered_by_reprompting_the_amodal_box():
    tracker = AmodalTracker()
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    reprompt, calls = reprompt_with(OBJECT)
    result = step(tracker, 5, [], reprompt=reprompt)
    assert [(t.track_id, t.state) for t in result.tracks] == [(1, TrackState.RECOVERED)]
    assert result.tracks[0].mask_index is None and result.tracks[0].visible.area > 0
    np.testing.assert_allclose(calls[0], [[40, 30, 64, 54]], atol=1)  # the amodal box
    assert result.reprompt_s > 0 and result.tracker_s >= 0
    again = step(tracker, 6, [(OBJECT, None)])
    assert again.tracks[0].track_id == 1 and again.tracks[0].state == TrackState.VISIBLE


@pytest.mark.parametrize("mask, iou", [(OBJECT, 0.2), (rect(90, 60, 120, 90), 0.9)])
def test_reprompted_mask_below_thresholds_is_not_kept(mask, iou):
    tracker = AmodalTracker(TrackerConfig(removed_after=1))
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    reprompt, _ = reprompt_with(mask, iou)
    result = step(tracker, 5, [], reprompt=reprompt)
    assert result.tracks == [] and result.ended == [(1, EndReason.REMOVED)]


def test_reprompt_that_raises_is_a_warning():
    tracker = AmodalTracker()
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])

    def broken(boxes):
        raise RuntimeError("decoder gone")
    result = step(tracker, 5, [], reprompt=broken)
    assert any("reprompt failed" in w and "decoder gone" in w for w in result.warnings)


def test_moving_object_leaving_the_image_ends_as_exited():
    tracker = AmodalTracker()
    ended = []
    for t in range(40):
        x = 80 + 4 * t
        objects = [(rect(x, 30, x + 20, 50), None)] if x < W else []
        ended += step(tracker, t, objects).ended
    assert (1, EndReason.EXITED) in ended


def test_constant_velocity_carries_a_moving_object_while_hidden():
    tracker = AmodalTracker()
    wall = rect(60, 0, 100, H)
    for t in range(100):
        x = 10 + t  # 30 px/s to the right, fully behind the wall for x in [60, 76]
        obj = rect(x, 30, x + 24, 54)
        visible = obj & ~wall
        objects = [(wall, None)]
        if visible.sum() >= 0.1 * obj.sum():
            objects.append((obj, visible))
        result = step(tracker, t, objects)
        if 62 <= x <= 74:
            track = by_mask_or_id(result, 2)
            assert track.state == TrackState.HIDDEN
            carried = track.amodal.paste(H, W)
            assert (carried & obj).sum() / (carried | obj).sum() > 0.7
    assert any(t.track_id == 2 and t.state == TrackState.VISIBLE for t in result.tracks)


def test_stamp_backwards_and_jump_reset_with_a_warning_and_ids_are_never_reused():
    tracker = AmodalTracker(TrackerConfig(max_stamp_jump=1.0))
    for t in range(3):
        step(tracker, t, [(OBJECT, None)])
    back = tracker.update(0.0, *frame([(OBJECT, None)])[:1], None, frame([(OBJECT, None)])[1],
                          (H, W))
    assert any("backwards" in w for w in back.warnings)
    assert back.ended == [(1, EndReason.RESET)] and back.tracks[0].track_id == 2
    jump = tracker.update(5.0, *frame([(OBJECT, None)])[:1], None, frame([(OBJECT, None)])[1],
                          (H, W))
    assert any("jumped forward" in w for w in jump.warnings) and jump.tracks[0].track_id == 3


def test_duplicate_stamp_is_processed_without_time_elapsing():
    tracker = AmodalTracker()
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    before = by_mask_or_id(step(tracker, 5, [(occluder_at(30), None)]), 1)
    again = step(tracker, 5, [(occluder_at(30), None)])
    hidden = by_mask_or_id(again, 1)
    assert any("duplicate stamp" in w for w in again.warnings)
    assert hidden.state == TrackState.HIDDEN
    assert hidden.seconds_hidden == before.seconds_hidden == pytest.approx(DT)


def test_long_empty_stretch_ends_tracks_and_a_new_object_starts_a_new_track():
    tracker = AmodalTracker()
    for t in range(5):
        step(tracker, t, [(OBJECT, None)])
    for t in range(5, 200):
        result = step(tracker, t, [])
        assert result.tracks == []
    assert tracker.num_tracks == 0
    assert step(tracker, 200, [(OBJECT, None)]).tracks[0].track_id == 2


def test_more_objects_than_max_tracks_are_left_untracked_with_a_warning():
    tracker = AmodalTracker(TrackerConfig(max_tracks=2))
    objects = [(rect(5 + 30 * k, 5, 25 + 30 * k, 25), None) for k in range(4)]
    result = step(tracker, 0, objects)
    assert [t.mask_index for t in result.tracks] == [0, 1]
    assert result.untracked == {2: "max_tracks reached", 3: "max_tracks reached"}
    assert sum("max_tracks" in w for w in result.warnings) == 1
    assert tracker.num_tracks == 2


def test_bad_numbers_are_untracked_or_refused():
    tracker = AmodalTracker()
    masks, dets = frame([(OBJECT, None), (rect(0, 0, 10, 10), None)])
    dets[1] = DetectionInfo("", "shape", float("nan"))
    result = tracker.update(0.0, masks, None, dets, (H, W))
    assert result.untracked == {1: "non-finite detector score"}
    with pytest.raises(ValueError, match="stamp_s must be finite"):
        tracker.update(math.inf, masks, None, dets, (H, W))
    with pytest.raises(ValueError, match="image_size"):
        tracker.update(1.0, masks, None, dets, (0, W))
    with pytest.raises(ValueError, match="prompt 1"):
        tracker.update(1.0, masks, None, dets[:1], (H, W))
    with pytest.raises(TypeError, match="InstancePrediction"):
        tracker.update(1.0, [object()], None, dets, (H, W))
    order = occlusion_order([masks[0].amodal], [masks[0].visible])
    with pytest.raises(ValueError, match="order is of 1 masks"):
        tracker.update(1.0, masks, order, dets, (H, W))
    assert tracker.num_tracks == 1  # refused frames leave the tracks untouched
    box = masks[0].prompt_box.copy()
    box[0] = np.nan
    bad = instance(0, OBJECT)
    bad = InstancePrediction(**{**bad.__dict__, "prompt_box": box})
    assert tracker.update(0.1, [bad], None, dets[:1], (H, W)).untracked == {
        0: "non-finite box"}


def test_class_gate_and_detector_id_prior():
    tracker = AmodalTracker()
    step(tracker, 0, [(OBJECT, None)], classes=["cup"])
    other = step(tracker, 1, [(OBJECT, None)], classes=["bowl"])
    assert other.tracks[0].track_id == 2  # another class never continues the cup's track
    tracker = AmodalTracker()
    a, b = rect(40, 30, 64, 54), rect(44, 30, 68, 54)
    step(tracker, 0, [(a, None), (rect(0, 60, 20, 90), None)], ids=["7", "8"])
    swapped = step(tracker, 1, [(rect(0, 60, 20, 90), None), (b, None)], ids=["8", "7"])
    assert {t.mask_index: t.track_id for t in swapped.tracks} == {0: 2, 1: 1}


def test_tentative_tracks_are_not_carried_hidden():
    tracker = AmodalTracker(TrackerConfig(min_hits=3))
    step(tracker, 0, [(OBJECT, None)])
    result = step(tracker, 1, [(occluder_at(30), None)])
    assert (1, EndReason.REMOVED) in result.ended
    assert all(t.state != TrackState.HIDDEN for t in result.tracks)


def test_duplicate_mask_starts_no_track():
    tracker = AmodalTracker()
    result = step(tracker, 0, [(OBJECT, None), (rect(41, 30, 64, 54), None)])
    assert len(result.tracks) == 1 and result.untracked == {1: "duplicate of a tracked mask"}


@pytest.mark.parametrize("field, value", [
    ("max_tracks", 0), ("max_tracks", 2000), ("hidden_timeout", 0.0), ("hidden_cover", 1.5),
    ("visible_threshold", float("nan")), ("removed_after", 0), ("motion", "spline"),
    ("max_masks", 1.5), ("id_prior", -0.1), ("acceleration_noise", -1.0),
])
def test_config_is_validated(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        TrackerConfig(**{field: value})


def test_shape_learnt_from_bad_views_is_relearnt_when_the_object_is_seen_whole():
    tracker = AmodalTracker(TrackerConfig(relearn_after=5))
    big = rect(32, 22, 72, 62)  # a bad first view, much larger than the object (24 / 40 px)
    step(tracker, 0, [(big, None)])
    states = []
    for t in range(1, 12):
        result = step(tracker, t, [(OBJECT, None)])
        states.append((result.tracks[0].track_id, result.tracks[0].state))
        if t < 5:  # inconsistent with the carried shape: the carried shape is reported
            assert result.tracks[0].amodal.box().tolist() == [32, 22, 72, 62]
    assert {tid for tid, _ in states} == {1}
    assert states[-1][1] == TrackState.VISIBLE
    assert result.tracks[0].amodal.box().tolist() == [40, 30, 64, 54]
