"""Offline replay over rosbag2 files (mcap and sqlite3), read back and decoded; no ROS needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from sameo_core.camera import PinholeIntrinsics
from sameo_core.geometry import RoiMask
from sameo_core.inference.depth_lifting import LiftingConfig
from sameo_ros.conversions import mono8_to_mask, stamp_ns
from sameo_ros.harness.synthetic_frames import (
    camera_info_message,
    compressed_message,
    depth_message,
    scene_frame,
)
from sameo_ros.messages import header
from sameo_ros.replay import types_from_connection

from .bag_helpers import VISION_MSGS, detections, image, input_types, write_bag

REPO = Path(__file__).resolve().parents[2]
SEC = 1_000_000_000


def _input_messages(compressed: bool) -> tuple[list, dict[int, object]]:
    types = input_types()
    frames = {k * SEC: scene_frame(seed=k, size=96) for k in (1, 2, 3)}
    messages = []
    for stamp, frame in frames.items():
        if compressed:
            shot = ("/compressed", compressed_message(types, frame.rgb,
                                                      header(types, stamp, "camera"), "png"))
        else:
            shot = ("/image", image(types, frame.rgb, stamp))
        messages += [shot, ("/detections", detections(types, frame, stamp))]
    bad = scene_frame(seed=9, size=96)  # a frame with a broken image: skipped, not fatal
    if compressed:
        broken = types.make("sensor_msgs/msg/CompressedImage", header=header(types, 4 * SEC,
                            "camera"), format="png", data=np.zeros(10, np.uint8))
        messages.append(("/compressed", broken))
    else:
        messages.append(("/image", image(types, bad.rgb, 4 * SEC, encoding="hsv8")))
    messages += [
        ("/detections", detections(types, bad, 4 * SEC)),
        ("/detections", detections(types, bad, 9 * SEC)),
    ]  # no image at all
    return messages, frames  # fmt: skip


def _read_output(path: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    with Reader(path) as reader:
        typestore = get_typestore(Stores.EMPTY)
        for connection in reader.connections:
            typestore.register(types_from_connection(connection))
        for connection, _, raw in reader.messages():
            out.setdefault(connection.topic, []).append(
                typestore.deserialize_cdr(raw, connection.msgtype)
            )
        metadata = {c.topic: c for c in reader.connections}
    out["_connections"] = [metadata]
    return out


@pytest.mark.parametrize("storage, compressed", [("mcap", False), ("sqlite3", True)])
def test_replay_writes_decodable_amodal_masks(tmp_path: Path, storage: str, compressed) -> None:
    messages, frames = _input_messages(compressed)
    write_bag(tmp_path / "in", messages, storage)
    command = [
        sys.executable,
        "-m",
        "sameo_ros.replay",
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        "--image-topic",
        "/compressed" if compressed else "/image",
        "--detections-topic",
        "/detections",
        "--variant",
        "test",
        "--debug-images",
        "--storage",
        storage,
    ]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    expected = "neither jpeg nor png" if compressed else "hsv8"
    assert expected in run.stdout + run.stderr  # the broken frame was reported
    out = _read_output(tmp_path / "out")
    connections = out["_connections"][0]
    assert connections["/sameo/amodal_masks"].msgtype == "sameo_ros/msg/AmodalMaskArray"
    assert connections["/sameo/amodal_masks"].msgdef.data  # `ros2 bag play` needs the definition
    arrays = out["/sameo/amodal_masks"]
    assert [stamp_ns(a.header.stamp) for a in arrays] == sorted(frames)
    for array in arrays:
        frame = frames[stamp_ns(array.header.stamp)]
        assert array.header.frame_id == "camera"
        ids = [m.id for m in array.masks]  # the detections, then tracks without one (id "")
        assert ids[: len(frame.ids)] == list(frame.ids) and not any(ids[len(frame.ids) :])
        for m in array.masks:
            mask = mono8_to_mask(m.mask)
            assert set(np.unique(m.mask.data)) <= {0, 255}
            assert m.amodal_box.size_x == mask.shape[1] and m.amodal_box.size_y == mask.shape[0]
            assert m.amodal_box.center.position.x == m.x_offset + mask.shape[1] / 2
    debug = out["/sameo/debug_image"]
    assert len(debug) == len(arrays) and debug[0].encoding == "rgb8"
    assert (debug[0].height, debug[0].width) == (96, 96)


def test_replay_with_depth_writes_detection_3d_arrays(tmp_path: Path) -> None:
    types = input_types()
    camera = PinholeIntrinsics(80.0, 80.0, 47.5, 47.5, 96, 96)
    wall = np.full((96, 96), 1.2)
    frames = {k * SEC: scene_frame(seed=30 + k, size=96) for k in (1, 2, 3)}
    messages = []
    for stamp, frame in frames.items():
        h = header(types, stamp, "camera")
        rgbd = [("/depth", depth_message(types, wall, h)),
                ("/camera_info", camera_info_message(types, camera, h))]
        shot = [("/image", image(types, frame.rgb, stamp)),
                ("/detections", detections(types, frame, stamp))]
        if stamp == 2 * SEC:  # recorded after its detections: still this frame's depth
            messages += shot + rgbd
        elif stamp == 3 * SEC:  # no CameraInfo: masks, an empty Detection3DArray, a message
            messages += shot + rgbd[:1]
        else:
            messages += rgbd + shot
    write_bag(tmp_path / "in", messages, "mcap")
    command = [sys.executable, "-m", "sameo_ros.replay", str(tmp_path / "in"),
               str(tmp_path / "out"), "--image-topic", "/image", "--detections-topic",
               "/detections", "--depth-topic", "/depth", "--camera-info-topic", "/camera_info",
               "--vision-msgs-dir", str(VISION_MSGS), "--variant", "test"]  # fmt: skip
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "no 3D at 3.000000 s: no CameraInfo" in run.stdout + run.stderr
    assert "1 frames without 3D" in run.stdout
    out = _read_output(tmp_path / "out")
    connections = out["_connections"][0]
    assert connections["/sameo/detections_3d"].msgtype == "vision_msgs/msg/Detection3DArray"
    found = {stamp_ns(a.header.stamp): a for a in out["/sameo/detections_3d"]}
    masks = {stamp_ns(a.header.stamp): a for a in out["/sameo/amodal_masks"]}
    assert sorted(found) == sorted(masks) == sorted(frames)
    for stamp in (1 * SEC, 2 * SEC):
        lifted = [d.id for d in found[stamp].detections]
        enough = LiftingConfig().min_valid_points  # visible pixels in the image for 3D
        seen = [m.id for m in masks[stamp].masks
                if RoiMask(mono8_to_mask(m.visible_mask), (m.visible_x_offset, m.visible_y_offset)
                           ).paste(96, 96).sum() >= enough]  # fmt: skip
        assert lifted == seen and lifted
        for d in found[stamp].detections:
            assert abs(d.results[0].pose.pose.position.z - 1.2) < 1e-3
    assert found[3 * SEC].detections == []


def test_replay_refuses_depth_without_camera_info(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "sameo_ros.replay", str(tmp_path / "in"), str(tmp_path / "out"),
         "--image-topic", "/image", "--detections-topic", "/d", "--depth-topic", "/depth"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "--camera-info-topic go together" in run.stderr


def _replay(bag: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sameo_ros.replay", str(bag), str(out), "--image-topic",
               "/image", "--detections-topic", "/detections", "--variant", "test", *options]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run


def test_replay_runs_the_tracker_over_the_bag_and_says_so(tmp_path: Path) -> None:
    """Tracks through the bag in its order (ids on the masks); a bag loop (stamps going back)
    resets them with a warning and starts new ids; --no-tracking answers every frame alone."""
    from sameo_ros.harness.occlusion_sequence import occlusion_sequence

    types = input_types()
    sequence = occlusion_sequence(7)
    stamps = [10 * SEC + round(t * 1e9) for t in sequence.stamps[:6]]
    order = [*range(6), 0, 1]  # the bag loops back to its start
    messages = []
    for k in order:
        frame = sequence.frames[k]
        messages += [("/image", image(types, frame.rgb, stamps[k])),
                     ("/detections", detections(types, frame, stamps[k]))]  # fmt: skip
    write_bag(tmp_path / "in", messages, "mcap")
    run = _replay(tmp_path / "in", tmp_path / "tracked")
    assert "tracking: on (hidden_timeout 5 s)" in run.stdout
    assert "stamp went backwards" in run.stdout + run.stderr
    arrays = _read_output(tmp_path / "tracked")["/sameo/amodal_masks"]
    assert len(arrays) == len(order)
    ids = [[m.track_id for m in a.masks] for a in arrays]
    first_pass = {i for frame in ids[:6] for i in frame if i}
    looped = {i for frame in ids[6:] for i in frame if i}
    assert first_pass and looped and min(looped) > max(first_pass), ids  # never reused
    run = _replay(tmp_path / "in", tmp_path / "alone", "--no-tracking")
    assert "tracking: off" in run.stdout
    for k, array in zip(order, _read_output(tmp_path / "alone")["/sameo/amodal_masks"]):
        assert [m.id for m in array.masks] == list(sequence.frames[k].ids)
        assert all(m.track_id == 0 and m.track_state == 0 for m in array.masks)
