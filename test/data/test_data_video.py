"""Procedural videos with amodal ground truth: the generator, the "sameo-video/1" schema written
and read back, and the simulated detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sameo_core.data.registry import read_dataset
from sameo_core.data.simulated_detector import DetectorConfig, SimulatedDetector
from sameo_core.data.video_dataset import read_video_set, write_video_set
from sameo_core.data.video_scenes import VideoConfig, generate_video, video_seed
from sameo_core.geometry import mask_box

SMALL = VideoConfig(num_frames=150, hide_seconds=(0.3, 1.0))


@pytest.fixture(scope="module")
def video():
    return generate_video(video_seed(3, 0), SMALL)


def test_video_is_deterministic_and_consistent(video):
    again = generate_video(video_seed(3, 0), SMALL)
    assert all(np.array_equal(a, b) for a, b in zip(video.frames, again.frames))
    roles = {t.track_id: t.role for t in video.tracks}
    assert "occluder" in roles.values() and "object" in roles.values()
    for objects in video.objects:
        covered = np.zeros((128, 128), bool)
        for o in objects:
            assert o.amodal.any() and not (o.visible & ~o.amodal).any()
            assert o.fully_hidden == (not o.visible.any())
            assert not (o.visible & covered).any()  # one object seen per pixel
            covered |= o.visible


def test_occluder_hides_its_target_fully_for_the_drawn_time(video):
    assert video.sweeps
    for sweep in video.sweeps:
        hidden = [any(o.track_id == sweep["target"] and o.fully_hidden for o in objects)
                  for objects in video.objects]  # fmt: skip
        runs, count = [], 0
        for h in hidden + [False]:
            if h:
                count += 1
            elif count:
                runs.append(count)
                count = 0
        # the pause makes the hiding last the drawn time (within a frame of rounding)
        assert any(abs(r - sweep["hide_s"] * 30) <= 2 for r in runs)


def test_objects_keep_their_size_and_moving_ones_move(video):
    for track in video.tracks:
        if track.role != "object":
            continue
        boxes = [mask_box(o.amodal) for objects in video.objects for o in objects
                 if o.track_id == track.track_id]  # fmt: skip
        moved = np.abs(boxes[-1][:2] - boxes[0][:2]).max()
        assert (moved == 0) == (track.motion == "static")


def test_written_set_reads_back_equal(tmp_path, video):
    other = generate_video(video_seed(3, 1), VideoConfig(num_frames=20, sweeps=0))
    path = write_video_set(tmp_path, [video, other], {"seed": 3})
    records = read_video_set(path)
    assert [len(r.frames) for r in records] == [150, 20]
    first = records[0]
    assert first.fps == 30.0 and first.frames[31].timestamp == pytest.approx(31 / 30)
    for f in (0, 60, 149):
        frame, objects = first.frames[f], video.objects[f]
        assert frame.image_path.is_file()
        assert len(frame.objects) == len(objects)
        for read, made in zip(frame.objects, objects):
            assert np.array_equal(read.amodal_mask, made.amodal)
            assert np.array_equal(read.visible_mask, made.visible)
            assert read.fully_hidden == made.fully_hidden
            assert read.track_id - 1 == made.track_id - 1  # first video: ids from 1
    assert set(records[1].tracks).isdisjoint(first.tracks)  # track ids unique in the file
    # every frame is also an amodal-COCO still image
    stills = read_dataset("amodal_coco", path)
    assert stills.num_images_listed == 170 and not stills.report.num_bad
    assert len(stills.records) == sum(len(f.objects) for r in records for f in r.frames)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["info"].update(schema="other"), "sameo-video/1"),
    (lambda d: d["annotations"][0].update(track_id=999), "not a track of video"),
    (lambda d: d["annotations"][0].update(fully_hidden=True), "fully_hidden"),
    (lambda d: d["videos"][0].update(num_frames=6), "images for num_frames"),
    (lambda d: d["annotations"][0].update(occluded_by=[10**9]), "occluded_by"),
    (lambda d: d["tracks"][0].update(role="hand"), "role"),
])
def test_malformed_file_is_a_clear_error(tmp_path, edit, message):
    path = write_video_set(tmp_path, [generate_video(1, VideoConfig(num_frames=5, sweeps=0))])
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        read_video_set(path)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_video_set(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_video_set(tmp_path / "bad.json")


@pytest.mark.parametrize("field, value", [("image_size", 8), ("num_frames", 0), ("fps", -1.0),
                                          ("hide_seconds", (2.0, 1.0)), ("sweeps", -1),
                                          ("object_size", (24, 80))])
def test_video_config_is_validated(field, value):
    with pytest.raises(ValueError, match=field):
        VideoConfig(**{field: value})


def square(x0, y0, x1, y1):
    m = np.zeros((64, 64), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_detector_gives_jittered_modal_boxes_and_drops_barely_visible_objects():
    amodal = square(10, 10, 40, 40)
    objects = [(1, 1, amodal, square(10, 10, 25, 40)),  # half visible
               (2, 2, amodal, square(10, 10, 12, 14))]  # < 10 % visible: dropped
    detector = SimulatedDetector(DetectorConfig(miss_probability=0.0, jitter=0.0), seed=0)
    detections = detector.detect(objects, {1: "star", 2: "blob"})
    assert [d.gt_track_id for d in detections] == [1]
    np.testing.assert_array_equal(detections[0].box, [10, 10, 25, 40])  # the visible part
    assert detections[0].class_id == "star" and 0.05 <= detections[0].score <= 1
    jittered = SimulatedDetector(DetectorConfig(miss_probability=0.0, jitter=0.05), seed=0)
    boxes = np.array([jittered.detect(objects[:1], {})[0].box for _ in range(50)])
    assert 0.2 < np.abs(boxes - [10, 10, 25, 40]).mean() < 3


def test_detector_misses_and_unstable_ids():
    objects = [(1, 1, square(10, 10, 40, 40), square(10, 10, 40, 40))]
    detector = SimulatedDetector(DetectorConfig(miss_probability=0.3,
                                                id_switch_probability=0.0), seed=1)
    ids = [d[0].detection_id if d else None for d in (detector.detect(objects, {})
                                                      for _ in range(300))]  # fmt: skip
    assert 0.2 < ids.count(None) / 300 < 0.4
    for a, b, c in zip(ids, ids[1:], ids[2:]):
        if a and b:
            assert a == b  # kept while seen in consecutive frames
        if a and b is None and c:
            assert c != a  # a new id after a miss
    none = SimulatedDetector(DetectorConfig(ids="none", miss_probability=0.0), seed=1)
    assert none.detect(objects, {})[0].detection_id == ""
    with pytest.raises(ValueError, match="miss_probability"):
        DetectorConfig(miss_probability=1.5)
