"""A camera's tracks in the node (sameo_ros/camera_tracks.py): the records of a tracked frame, the
hidden object's carried mask and last 3D, its messages and overlay, and the pipeline running the
tracker while the frame's image embedding is held (README, "ROS 2 node", Tracking). ROS-free."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.inference.predictor import InstancePrediction
from sameo_core.tracking import DetectionInfo, TrackerConfig, TrackOutput, TrackState
from sameo_core.visualize import PALETTE
from sameo_ros.camera_tracks import CameraTracks, detected_record, hidden_record, union
from sameo_ros.conversions import mono8_to_mask
from sameo_ros.messages import amodal_mask_array, copy_header, detection_3d_array, point_cloud
from sameo_ros.overlay import draw_overlay, label
from sameo_ros.params import NodeConfig
from sameo_ros.pipeline import FrameInputs, FramePipeline, MaskRecord
from sameo_ros.replay import rosbags_types

from .test_messages import _object_3d, _store
from .test_pipeline import _detections, _image

SIZE = 100


def _box(x0: int, y0: int, w: int, h: int) -> np.ndarray:
    full = np.zeros((SIZE, SIZE), bool)
    full[y0 : y0 + h, x0 : x0 + w] = True
    return full


def _mask(index: int, amodal: np.ndarray, visible: np.ndarray) -> InstancePrediction:
    """SAMEO's answer for prompt `index` with these (true) masks."""
    a, v = RoiMask.from_full(amodal), RoiMask.from_full(visible & amodal)
    return InstancePrediction(
        index=index, amodal=a, iou=0.9, score=0.9, prompt_box=v.box().astype(np.float32),
        box=a.box().astype(np.float32), visible=v, hidden=a.subtract(v), visible_iou=0.9,
        visible_fraction=v.area / a.area,
    )  # fmt: skip


def _record(name: str, m: InstancePrediction, rank: int = 0, object_3d=None) -> MaskRecord:
    return MaskRecord(
        id=name, class_id="box", detector_score=0.9, score=m.score, iou=m.iou,
        prompt_box=np.asarray(m.prompt_box, np.float64), amodal_box=np.asarray(m.box, np.float64),
        amodal=m.amodal, visible=m.visible, visible_fraction=float(m.visible_fraction),
        rank=rank, object_3d=object_3d,
    )  # fmt: skip


def _no_reprompt(boxes: np.ndarray) -> list:
    return []


A = _box(20, 30, 20, 20)  # the object that will be hidden
B = _box(10, 20, 45, 45)  # the occluder that comes in front of it


def _frame(tracks: CameraTracks, stamp: float, objects: list[tuple[str, np.ndarray, np.ndarray]],
           object_3d=None):  # fmt: skip
    masks = [_mask(k, amodal, visible) for k, (_, amodal, visible) in enumerate(objects)]
    records = [_record(name, m, object_3d=object_3d if name == "a" else None)
               for (name, _, _), m in zip(objects, masks)]  # fmt: skip
    detections = [DetectionInfo("", "box", 0.9)] * len(masks)
    return tracks.track(stamp, masks, None, detections, (SIZE, SIZE), records, _no_reprompt,
                        has_visible=True)  # fmt: skip


def test_a_hidden_object_stays_in_the_records_with_its_id_mask_and_last_3d() -> None:
    tracks = CameraTracks(TrackerConfig(hidden_timeout=1.5))
    seen_3d = _object_3d(0, np.full((4, 3), 0.8))
    for k in range(4):  # seen whole: its track starts, with its 3D
        frame = _frame(tracks, k * 0.1, [("a", A, A)], seen_3d)
        (a,) = frame.records
        assert (a.id, a.track_state, a.age) == ("a", TrackState.VISIBLE, k) and a.track_id >= 1
    track_id = a.track_id
    for k in range(4, 14):  # fully behind B: not detected, its region covered by B's visible mask
        frame = _frame(tracks, k * 0.1, [("b", B, B)])
        b, hidden = frame.records
        assert b.id == "b" and b.track_id not in (0, track_id)
        assert (hidden.id, hidden.track_id) == ("", track_id)
        assert hidden.track_state == TrackState.HIDDEN
        assert np.array_equal(hidden.amodal.paste(SIZE, SIZE), A)  # the carried mask
        assert hidden.visible is not None and hidden.visible.area == 0
        assert hidden.visible_fraction == 0.0 and math.isnan(hidden.iou)
        assert math.isclose(hidden.seconds_hidden, k * 0.1 - 0.3) and hidden.age == k
        assert hidden.occluded_by == ("b",) and hidden.rank == 1  # one more than b's rank 0
        assert hidden.object_3d is seen_3d  # its last 3D, carried
        assert 0.0 < hidden.score < 0.9  # the confidence decays towards hidden_timeout
        np.testing.assert_array_equal(hidden.prompt_box, np.zeros(4))
    frame = _frame(tracks, 1.4, [("a2", A, A)])  # back: the detector's new id, the same track
    (a,) = frame.records
    assert (a.id, a.track_id, a.track_state, a.seconds_hidden) == ("a2", track_id,
                                                                   TrackState.VISIBLE, 0.0)


def test_hidden_tracks_end_at_the_timeout_and_reset_keeps_counting_ids() -> None:
    tracks = CameraTracks(TrackerConfig(hidden_timeout=0.25))
    for k in range(3):
        _frame(tracks, k * 0.1, [("a", A, A)], _object_3d(0, np.ones((2, 3))))
    hidden = [len(_frame(tracks, k * 0.1, [("b", B, B)]).records) for k in range(3, 8)]
    assert hidden[0] == 2 and hidden[-1] == 1  # carried, then dropped after 0.25 s
    assert not tracks._last_3d  # the ended track's 3D is forgotten
    first = _frame(tracks, 0.8, [("c", A, A)]).records[0].track_id
    assert tracks.reset() == 2 and tracks.live == 0
    after = _frame(tracks, 0.9, [("c", A, A)]).records[0].track_id
    assert after > first  # ids are never reused


def test_new_thresholds_apply_from_the_next_frame() -> None:
    tracks = CameraTracks(TrackerConfig())
    tracks.configure(TrackerConfig(visible_threshold=0.3))
    half = A & _box(0, 0, 30, SIZE)  # half of A seen
    (a,) = _frame(tracks, 0.0, [("a", A, half)]).records
    assert a.track_state == TrackState.VISIBLE  # 50 % visible >= 0.3
    assert tracks.tracker.config.visible_threshold == 0.3


def test_an_inconsistent_completion_reports_the_kept_shape_plus_the_visible_pixels() -> None:
    m = _mask(0, _box(20, 30, 10, 20), _box(20, 30, 10, 20))  # SAMEO completed half of it
    record = _record("a", m)
    kept = RoiMask.from_full(A)
    track = TrackOutput(4, TrackState.OCCLUDED, kept, m.visible, 0, 0.0, 9, 0.9)
    out = detected_record(record, track)
    assert (out.track_id, out.track_state, out.age) == (4, TrackState.OCCLUDED, 9)
    assert np.array_equal(out.amodal.paste(SIZE, SIZE), A)
    assert out.amodal.aligned(out.visible).sum() == out.visible.area  # visible ⊆ amodal
    assert math.isclose(out.visible_fraction, out.visible.area / out.amodal.area)
    np.testing.assert_array_equal(out.amodal_box, [20, 30, 40, 50])
    same = detected_record(record, dataclasses.replace(track, amodal=record.amodal))
    assert same.amodal is record.amodal and same.visible_fraction == record.visible_fraction
    shifted = RoiMask(np.ones((4, 4), bool), (50, 50))
    assert union(kept, shifted).area == kept.area + 16 and union(kept, RoiMask.empty()) is kept
    loose = RoiMask(np.pad(np.ones((3, 3), bool), 2), (10, 10))  # tight crops, always
    assert union(loose, RoiMask.empty()).offset == (12, 12) == union(RoiMask.empty(), loose).offset


def test_without_a_modal_head_a_hidden_track_has_no_visible_mask_nor_rank() -> None:
    track = TrackOutput(3, TrackState.HIDDEN, RoiMask.from_full(A), RoiMask.empty(), None, 0.5,
                        7, 0.4)  # fmt: skip
    record = hidden_record(track, {}, has_visible=False, object_3d=None)
    assert record.visible is None and math.isnan(record.visible_fraction) and record.rank == -1


def test_hidden_track_messages_overlay_and_3d() -> None:
    store = _store()
    types = rosbags_types(store)
    header = copy_header(types, store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=3, nanosec=5), frame_id="cam"))
    seen = _object_3d(0, np.full((3, 3), 0.5))
    detected = dataclasses.replace(_record("b", _mask(0, B, B), object_3d=seen), track_id=2,
                                   track_state=int(TrackState.VISIBLE), age=4)  # fmt: skip
    track = TrackOutput(1, TrackState.HIDDEN, RoiMask.from_full(A), RoiMask.empty(), None,
                        0.4, 8, 0.5, "box", "", (2,))  # fmt: skip
    hidden = hidden_record(track, {2: detected}, True, _object_3d(1, np.full((5, 3), 0.9)))
    raw = store.serialize_cdr(amodal_mask_array(types, header, [detected, hidden]),
                              "sameo_ros/msg/AmodalMaskArray")  # fmt: skip
    back = store.deserialize_cdr(raw, "sameo_ros/msg/AmodalMaskArray").masks
    assert [(m.id, m.track_id, m.track_state, m.age) for m in back] == [
        ("b", 2, TrackState.VISIBLE, 4), ("", 1, TrackState.HIDDEN, 8)]
    h = back[1]
    assert (h.visible_mask.width, h.visible_mask.height) == (0, 0)
    assert math.isclose(h.seconds_hidden, 0.4, rel_tol=1e-6) and list(h.occluded_by) == ["b"]
    assert np.array_equal(RoiMask(mono8_to_mask(h.mask), (h.x_offset, h.y_offset))
                          .paste(SIZE, SIZE), A)  # fmt: skip
    assert (h.prompt_box.size_x, h.prompt_box.size_y) == (0.0, 0.0)
    assert h.hypothesis.class_id == "box" and h.hypothesis.score == 0.0
    # 3D: the hidden object's last 3D under "track:<id>"; no visible points of it in the cloud
    objects = detection_3d_array(types, header, [detected, hidden]).detections
    assert [d.id for d in objects] == ["b", "track:1"]
    assert point_cloud(types, header, [detected, hidden]).width == 3
    # overlay: a dashed outline alone (no tint inside), labelled with its id
    assert label(hidden) == "#1 hidden 0.4 s"
    assert label(detected).startswith("#2 b 0.90")
    grey = np.full((SIZE, SIZE, 3), 100, np.uint8)
    out = draw_overlay(grey, [hidden])
    assert (out[_box(23, 33, 14, 14)] == 100).all()  # no hatching over what is in front
    border = A & ~_box(22, 32, 16, 16)  # its 2-px outline
    drawn = (out[border] != 100).any(axis=1).mean()
    assert 0.3 < drawn < 0.8, drawn  # dashed
    # an object keeps its track's colour wherever it comes in the frame's records
    other = dataclasses.replace(_record("c", _mask(0, A, A)), track_id=5)
    for records in ([detected, other], [other, detected]):
        out = draw_overlay(grey, records)
        assert tuple(out[49, 30]) == tuple(PALETTE[5].astype(np.uint8))  # c's solid outline


@pytest.fixture(scope="module")
def pipeline() -> FramePipeline:
    return FramePipeline.from_config(NodeConfig(variant="test", max_detections=4))


def _inputs(rgb: np.ndarray, stamp: int, boxes: list, tracks: CameraTracks) -> FrameInputs:
    return FrameInputs(_image(rgb, stamp), _detections(np.array(boxes, np.float64)),
                       tracks=tracks)  # fmt: skip


def test_each_cameras_tracker_reprompts_on_its_own_frames_embedding(pipeline, monkeypatch) -> None:
    """Two cameras served together, one by one on the CPU: each frame's tracker re-prompts while
    the predictor still holds that frame's image (not the other camera's), also for a frame
    without detections (encoded for its live tracks); the re-prompt time is model time."""
    rng = np.random.default_rng(0)
    sizes = {"head": (96, 96), "wrist": (80, 120)}
    tracks = {c: CameraTracks() for c in sizes}
    images = {c: rng.integers(0, 255, (*hw, 3), dtype=np.uint8) for c, hw in sizes.items()}
    for c in sizes:  # each camera's first frame starts tentative tracks
        result = pipeline.process(_inputs(images[c], 1, [[5, 5, 60, 60]], tracks[c]))
        assert tracks[c].live >= 1, "random weights gave an empty mask: pick another image"
        assert result.tracking is not None and result.timings_ms["tracker"] > 0
    calls = []
    predict = pipeline.predictor.predict

    def recording(boxes, scores=None, **kwargs):
        if scores is None:  # the tracker's re-prompt
            calls.append(pipeline.predictor.image_sizes[kwargs["image"]])
        return predict(boxes, scores, **kwargs)

    monkeypatch.setattr(pipeline.predictor, "predict", recording)
    batch = [_inputs(images[c], 2, [], tracks[c]) for c in sizes]  # 1 s later, no detections
    results = pipeline.process_batch(batch)
    assert calls == [sizes["head"], sizes["wrist"]]
    for result in results:
        assert result.encoded and result.timings_ms["model"] > 0
        assert all(r.id == "" and r.track_id for r in result.records)  # recovered or none


def test_a_frame_the_tracker_refuses_keeps_its_masks(pipeline, monkeypatch) -> None:
    tracks = CameraTracks()

    def refuse(*args, **kwargs):
        raise ValueError("image_size must be (height, width), positive integers ≤ 32768")

    monkeypatch.setattr(tracks, "track", refuse)
    rgb = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    result = pipeline.process(_inputs(rgb, 1, [[4, 4, 40, 40]], tracks))
    assert len(result.records) == 1 and result.records[0].track_id == 0
    assert result.tracking.warnings == [
        "frame not tracked: image_size must be (height, width), positive integers ≤ 32768"]
