"""sameo_node as a real process: frames over DDS in, AmodalMaskArray out, bad input survived.

All tests here share one node (conftest.sameo_node, the tiny random `test` model): the protocol,
not the mask quality, is under test.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_ros.conversions import mono8_to_mask
from sameo_ros.harness.synthetic_frames import Frame, scene_frame
from sameo_ros.messages import FLOAT32_MAX
from sameo_ros.params import DESCRIPTIONS, PARAMETERS

from .conftest import SEC, TIMEOUT, NodeProcess
from .ros_calls import call, detections

RESEND_S = 2.0  # best-effort input: resend if the first copy was lost
_CLIENTS = itertools.count()
ROS_BUILTIN_PARAMETERS = {"use_sim_time", "start_type_description_service"}  # every rclpy node


@pytest.fixture
def client(sameo_node: NodeProcess, request: pytest.FixtureRequest) -> Iterator:
    from sameo_ros.harness.node_client import SameoClient

    reliability = getattr(request, "param", "reliable")
    client = SameoClient(
        image_reliability=reliability,
        debug_image=True,
        name=f"client_{reliability}_{next(_CLIENTS)}",
    )
    assert client.wait_for_node(TIMEOUT), sameo_node.tail()
    yield client
    client.close()


def check_masks(msg, frame: Frame, stamp: int) -> None:
    """The answer to `frame`: a mask per detection, in order, then (with tracking, the node's
    default) the tracks without a detection this frame; each mask's geometry and the order."""
    assert (msg.header.stamp.sec * SEC + msg.header.stamp.nanosec) == stamp
    assert msg.header.frame_id == "camera"
    detected = detections(msg)
    assert [m.id for m in detected] == list(frame.ids)
    height, width = frame.rgb.shape[:2]
    for m, box, class_id, score in zip(detected, frame.boxes, frame.class_ids, frame.scores):
        assert m.hypothesis.class_id == class_id and math.isclose(m.hypothesis.score, score)
        assert math.isclose(m.score, score * m.predicted_iou, rel_tol=1e-4, abs_tol=1e-6)
        prompt = m.prompt_box
        assert math.isclose(prompt.center.position.x, (box[0] + box[2]) / 2, abs_tol=1e-3)
        assert math.isclose(prompt.size_y, box[3] - box[1], abs_tol=1e-3)
        assert m.rank >= 0
    non_empty = 0
    for m in msg.masks:
        assert m.mask.encoding == "mono8" and m.mask.header == msg.header
        assert set(np.unique(np.frombuffer(bytes(m.mask.data), np.uint8))) <= {0, 255}
        mask = mono8_to_mask(m.mask)
        if mask.any():  # ROI geometry: the amodal box is the mask's extent in the image
            non_empty += 1
            assert (m.amodal_box.size_x, m.amodal_box.size_y) == (m.mask.width, m.mask.height)
            assert m.amodal_box.center.position.x == m.x_offset + m.mask.width / 2
            assert m.amodal_box.center.position.y == m.y_offset + m.mask.height / 2
            assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
            assert -width < m.x_offset < width and -height < m.y_offset < height
        # The visible part (the random-weight node has both heads): inside the amodal mask, in
        # its own crop; the share is its area over the amodal area.
        amodal = RoiMask(mask, (m.x_offset, m.y_offset))
        visible = RoiMask(mono8_to_mask(m.visible_mask), (m.visible_x_offset, m.visible_y_offset))
        assert m.visible_mask.header == msg.header
        assert amodal.aligned(visible).sum() == visible.area
        if amodal.area:
            assert math.isclose(m.visible_fraction, visible.area / amodal.area, rel_tol=1e-5)
        if m.track_state == 2:  # HIDDEN: nothing of it seen, behind detections of this frame
            assert visible.area == 0 and m.rank >= 1 and m.seconds_hidden > 0
    assert non_empty, "every mask empty: the ROI geometry was not checked"
    # The occlusion order: between this frame's ids, each statement made from both sides.
    ids = [m.id for m in detected]
    front_back = {(f, m.id) for m in detected for f in m.occluded_by}
    assert front_back == {(m.id, b) for m in detected for b in m.occludes}
    assert all(f in ids and b in ids and f != b for f, b in front_back)
    rank = {m.id: m.rank for m in detected}
    assert all(rank[m.id] == 0 for m in detected if not m.occluded_by)
    assert all(f in ids for m in msg.masks[len(detected):] for f in m.occluded_by)


@pytest.mark.parametrize("client", ["reliable", "best_effort"], indirect=True)
def test_frame_round_trip(client, sameo_node: NodeProcess) -> None:
    base = (100 if "_reliable_" in client.node.get_name() else 200) * SEC
    for k in range(3):
        frame = scene_frame(seed=k, size=96)
        stamp = base + k * SEC // 10
        msg = client.request(frame, stamp, TIMEOUT, RESEND_S)
        assert msg is not None, sameo_node.tail()
        check_masks(msg, frame, stamp)
    stats = client.wait_stats(stamp, TIMEOUT)
    assert stats.masks == len(msg.masks) >= len(frame.ids) and stats.model_ms > 0
    assert stats.total_ms >= stats.model_ms and stats.frames_processed >= 3
    debug = client.wait_debug(stamp, TIMEOUT)
    assert debug is not None, sameo_node.tail()
    assert (debug.encoding, debug.height, debug.width) == ("rgb8", 96, 96)


def test_burst_processes_the_newest_pair_and_counts_drops(client, sameo_node) -> None:
    frames = [scene_frame(seed=k, size=96) for k in range(30)]
    stamps = [600 * SEC + k * SEC // 100 for k in range(len(frames))]
    for frame, stamp in zip(frames, stamps):
        client.send_frame(frame, stamp)  # far faster than the model: pairs queue up
    assert client.wait_masks(stamps[-1], TIMEOUT) is not None  # the newest one is answered
    answered = [s for s in stamps if s in client.received.masks]
    assert len(answered) < len(stamps)  # stale pairs were dropped, not queued
    assert client.wait_stats(stamps[-1], TIMEOUT).pairs_dropped > 0


def _bad(client, frame: Frame, stamp: int, **image_fields: object) -> None:
    image = client.image_message(frame.rgb, stamp, **image_fields)
    client.publish(image, client.detections_message(frame, stamp), stamp)


def test_malformed_input_is_logged_and_survived(client, sameo_node: NodeProcess) -> None:
    frame = scene_frame(seed=5, size=96)
    cases = [
        (dict(encoding="hsv8"), "unsupported image encoding 'hsv8'"),
        (dict(step=10), "step 10 is smaller than width*"),
        (dict(height=95), "image data has"),
        (dict(height=0, width=0, step=0, data=np.zeros(0, np.uint8)), "empty image"),
    ]
    for k, (fields, expected) in enumerate(cases):
        _bad(client, frame, (300 + k) * SEC, **fields)
        assert sameo_node.wait_log(expected), sameo_node.tail()
    nan_frame = scene_frame(seed=5, size=96)
    nan_frame.boxes[0] = np.nan
    orphan = 400 * SEC  # detections whose image never comes
    client.publish(None, client.detections_message(frame, orphan), orphan)
    msg = client.request(nan_frame, 401 * SEC, TIMEOUT, RESEND_S)
    assert sameo_node.wait_log("found no image within sync_slop")
    assert msg is not None and [m.id for m in detections(msg)] == list(frame.ids[1:])
    assert sameo_node.wait_log("non-finite coordinate")
    assert client.request(frame, 402 * SEC, TIMEOUT, RESEND_S) is not None  # still served
    assert sameo_node.process.poll() is None


def test_every_camera_encoding_is_answered_end_to_end(client, sameo_node) -> None:
    """Every encoding the node converts (README, "ROS 2 node") as a camera driver publishes it:
    each frame is answered with a mask per detection, on the frame's stamp."""
    from sameo_ros.harness.camera_encodings import camera_image
    from sameo_ros.image_formats import RAW_ENCODINGS

    frame = scene_frame(seed=15, size=96)
    for k, encoding in enumerate(RAW_ENCODINGS):
        stamp = 1000 * SEC + k * SEC // 10
        image = camera_image(client.types, frame.rgb, client.header(stamp), encoding)
        answer = None
        for _ in range(3):  # best-effort input: resend while unanswered
            client.publish(image, client.detections_message(frame, stamp), stamp)
            answer = client.wait_masks(stamp, RESEND_S)
            if answer is not None:
                break
        assert answer is not None, (encoding, sameo_node.tail())
        assert [m.id for m in detections(answer)] == list(frame.ids), encoding
        assert answer.masks[0].mask.header.stamp == image.header.stamp


def test_a_raw_image_above_max_image_pixels_is_refused_from_its_header(client, sameo_node):
    """A raw Image claiming 30000 x 30000 pixels (with a few bytes of data): refused from its
    width and height before its data is read; the next frame is answered."""
    frame = scene_frame(seed=16, size=96)
    _bad(client, frame, 1100 * SEC, height=30000, width=30000, step=90000)
    assert sameo_node.wait_log("rgb8 image of 30000x30000 = 900000000 pixels exceeds "
                               "max_image_pixels"), sameo_node.tail()  # fmt: skip
    assert client.request(frame, 1101 * SEC, TIMEOUT, RESEND_S) is not None


def test_the_model_time_is_encoder_decoder_and_postprocess(client, sameo_node) -> None:
    """FrameStats.model_ms (set_image + predict) is made of its encoder, decoder and
    post-processing parts, within 1 ms."""
    frame = scene_frame(seed=17, size=96)
    stamp = 1200 * SEC
    assert client.request(frame, stamp, TIMEOUT, RESEND_S) is not None
    stats = client.wait_stats(stamp, TIMEOUT)
    parts = stats.encoder_ms + stats.decoder_ms + stats.postprocess_ms
    assert stats.encoder_ms > 0 and stats.decoder_ms > 0 and stats.postprocess_ms > 0
    assert abs(stats.model_ms - parts) < 1.0, (stats.model_ms, stats.encoder_ms,
                                                stats.decoder_ms, stats.postprocess_ms)


def test_values_beyond_the_message_types_are_saturated(client, sameo_node) -> None:
    """A detector score beyond float32 (the refined score is a float32 field) and a box far
    larger than any image: the frame is answered by the documented rules (msg/AmodalMask.msg)
    and the next frame too."""
    frame = scene_frame(seed=8, size=96)
    scores = frame.scores.copy()
    scores[0] = 1e300
    boxes = frame.boxes.copy()
    boxes[1] = [-1e30, -1e30, 1e30, 1e30]
    huge = dataclasses.replace(frame, scores=scores, boxes=boxes)
    msg = client.request(huge, 800 * SEC, TIMEOUT, RESEND_S)
    assert msg is not None, sameo_node.tail()
    by_id = {m.id: m for m in msg.masks}
    first, second = by_id[frame.ids[0]], by_id[frame.ids[1]]
    assert first.hypothesis.score == 1e300  # float64: passed on exactly
    assert abs(first.score) == FLOAT32_MAX  # 1e300 * predicted IoU saturates
    assert second.prompt_box.size_x == 96 and second.prompt_box.size_y == 96  # clipped to it
    assert client.request(frame, 801 * SEC, TIMEOUT, RESEND_S) is not None
    assert "Traceback" not in sameo_node.log_text()


def test_frame_without_detections_gets_an_empty_answer(client, sameo_node) -> None:
    frame = scene_frame(seed=7, size=96)
    empty = dataclasses.replace(
        frame, boxes=np.zeros((0, 4)), ids=(), class_ids=(), scores=np.zeros(0)
    )
    msg = client.request(empty, 710 * SEC, TIMEOUT, RESEND_S)
    assert msg is not None, sameo_node.tail()
    assert detections(msg) == []  # what follows are tracks of earlier frames, if any


def test_undecodable_bytes_are_dropped_and_survived(client, sameo_node: NodeProcess) -> None:
    """Bytes that are no valid serialized message of the topic's type: the middleware drops
    them when taking (rclpy never hands them over); the node keeps serving."""
    frame = scene_frame(seed=6, size=96)
    assert client.request(frame, 699 * SEC, TIMEOUT, RESEND_S) is not None  # both ends matched
    client.image_pub.publish(b"\x00\x01\x00\x00\x07")
    client.detections_pub.publish(b"\x00\x01\x00\x00" + bytes(8) + (10**6).to_bytes(4, "little"))
    assert client.request(frame, 701 * SEC, TIMEOUT, RESEND_S) is not None
    assert sameo_node.process.poll() is None


def test_declared_parameters_match_config(client) -> None:
    from rcl_interfaces.srv import DescribeParameters, ListParameters

    names = set(call(client.node, ListParameters, "/sameo/list_parameters").result.names)
    assert names - ROS_BUILTIN_PARAMETERS == set(PARAMETERS)
    request = DescribeParameters.Request(names=sorted(PARAMETERS))
    described = call(client.node, DescribeParameters, "/sameo/describe_parameters", request)
    assert {d.name: d.description for d in described.descriptors} == DESCRIPTIONS


def test_dds_sockets_stay_on_loopback(client, sameo_node: NodeProcess) -> None:
    addresses = _udp_addresses(sameo_node.process.pid)
    assert addresses, "no UDP sockets found"
    outside = {a for a in addresses if not (a.startswith("127.") or a.startswith("239.255."))}
    assert not outside, f"sameo_node has UDP sockets on {outside}"


def _udp_addresses(pid: int) -> set[str]:
    """Local IPv4 addresses of the UDP sockets process `pid` holds (from /proc)."""
    import os
    import socket
    import struct

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = set()
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            packed = struct.pack("<I", int(fields[1].split(":")[0], 16))
            addresses.add(socket.inet_ntoa(packed))
    return addresses


@pytest.mark.parametrize("name", ["AmodalMask", "AmodalMaskArray", "FrameStats", "PointPrompts"])
def test_replay_type_hashes_match_the_built_messages(ros_env, name: str) -> None:
    """Bags written by the replay tool carry the hashes `ros2 bag play` checks against."""
    import json

    from sameo_ros.harness.node_process import DEFAULT_INSTALL
    from sameo_ros.replay import VISION_TYPES, output_typestore, types_from_dir

    from .bag_helpers import VISION_MSGS

    store = output_typestore(types_from_dir(VISION_MSGS, "vision_msgs", VISION_TYPES))
    built = DEFAULT_INSTALL / "sameo_ros" / "share" / "sameo_ros" / "msg" / f"{name}.json"
    expected = json.loads(built.read_text())["type_hashes"][0]
    assert expected["type_name"] == f"sameo_ros/msg/{name}"
    assert store.hash_rihs01(f"sameo_ros/msg/{name}") == expected["hash_string"]
