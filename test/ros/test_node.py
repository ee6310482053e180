"""sameo_node as a real process: frames over DDS in, AmodalMaskArray out, bad input survived."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from sameo_ros.conversions import mono8_to_mask
from sameo_ros.params import DESCRIPTIONS, PARAMETERS
from sameo_ros.scene import Frame, scene_frame

from .conftest import NodeProcess

SEC = 1_000_000_000
TIMEOUT = 30.0
RESEND_S = 2.0  # best-effort input: resend if the first copy was lost
_CLIENTS = itertools.count()
ROS_BUILTIN_PARAMETERS = {"use_sim_time", "start_type_description_service"}  # every rclpy node


@pytest.fixture
def client(sameo_node: NodeProcess, request: pytest.FixtureRequest) -> Iterator:
    from sameo_ros.client import SameoClient

    reliability = getattr(request, "param", "reliable")
    client = SameoClient(
        image_reliability=reliability,
        debug_image=True,
        name=f"client_{reliability}_{next(_CLIENTS)}",
    )
    assert client.wait_for_node(TIMEOUT), sameo_node.log_text()
    yield client
    client.close()


def _check_masks(msg, frame: Frame, stamp: int) -> None:
    assert (msg.header.stamp.sec * SEC + msg.header.stamp.nanosec) == stamp
    assert msg.header.frame_id == "camera"
    assert [m.id for m in msg.masks] == list(frame.ids)
    height, width = frame.rgb.shape[:2]
    non_empty = 0
    for m, box, class_id, score in zip(msg.masks, frame.boxes, frame.class_ids, frame.scores):
        assert m.hypothesis.class_id == class_id and math.isclose(m.hypothesis.score, score)
        assert math.isclose(m.score, score * m.predicted_iou, rel_tol=1e-4, abs_tol=1e-6)
        prompt = m.prompt_box
        assert math.isclose(prompt.center.position.x, (box[0] + box[2]) / 2, abs_tol=1e-3)
        assert math.isclose(prompt.size_y, box[3] - box[1], abs_tol=1e-3)
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
        assert math.isnan(m.visible_fraction) or 0.0 <= m.visible_fraction <= 1.0
    assert non_empty, "every mask empty: the ROI geometry was not checked"


@pytest.mark.parametrize("client", ["reliable", "best_effort"], indirect=True)
def test_frame_round_trip(client, sameo_node: NodeProcess) -> None:
    base = (100 if "_reliable_" in client.node.get_name() else 200) * SEC
    for k in range(3):
        frame = scene_frame(seed=k, size=96)
        stamp = base + k * SEC // 10
        msg = client.request(frame, stamp, TIMEOUT, RESEND_S)
        assert msg is not None, sameo_node.log_text()[-3000:]
        _check_masks(msg, frame, stamp)
    client.wait_masks(-1, 1.0)  # let the last stats and debug image arrive
    stats = client.received.stats[stamp]
    assert stats.masks == len(frame.ids) and stats.model_ms > 0
    assert stats.total_ms >= stats.model_ms and stats.frames_processed >= 3
    debug = client.received.debug[stamp]
    assert (debug.encoding, debug.height, debug.width) == ("rgb8", 96, 96)


def test_burst_processes_the_newest_pair_and_counts_drops(client, sameo_node) -> None:
    frames = [scene_frame(seed=k, size=96) for k in range(30)]
    stamps = [600 * SEC + k * SEC // 100 for k in range(len(frames))]
    for frame, stamp in zip(frames, stamps):
        client.send_frame(frame, stamp)  # far faster than the model: pairs queue up
    assert client.wait_masks(stamps[-1], TIMEOUT) is not None  # the newest one is answered
    client.wait_masks(-1, 1.0)
    answered = [s for s in stamps if s in client.received.masks]
    assert len(answered) < len(stamps)  # stale pairs were dropped, not queued
    assert client.received.stats[stamps[-1]].pairs_dropped > 0


def _bad(client, frame: Frame, stamp: int, **image_fields: object) -> None:
    image = client.image_message(frame.rgb, stamp, **image_fields)
    client.publish(image, client.detections_message(frame, stamp), stamp)


def test_malformed_input_is_logged_and_survived(client, sameo_node: NodeProcess) -> None:
    frame = scene_frame(seed=5, size=96)
    cases = [
        (dict(encoding="yuv422"), "unsupported image encoding 'yuv422'"),
        (dict(step=10), "step 10 is smaller than width*channels"),
        (dict(height=95), "image data has"),
        (dict(height=0, width=0, step=0, data=np.zeros(0, np.uint8)), "empty image"),
    ]
    for k, (fields, expected) in enumerate(cases):
        _bad(client, frame, (300 + k) * SEC, **fields)
        assert sameo_node.wait_log(expected), sameo_node.log_text()[-3000:]
    nan_frame = scene_frame(seed=5, size=96)
    nan_frame.boxes[0] = np.nan
    orphan = 400 * SEC  # detections whose image never comes
    client.publish(None, client.detections_message(frame, orphan), orphan)
    msg = client.request(nan_frame, 401 * SEC, TIMEOUT, RESEND_S)
    assert sameo_node.wait_log("found no image within sync_slop")
    assert msg is not None and [m.id for m in msg.masks] == list(frame.ids[1:])
    assert sameo_node.wait_log("non-finite coordinate")
    assert (
        client.request(frame, 402 * SEC, TIMEOUT, RESEND_S) is not None
    )  # a good frame still works
    assert sameo_node.process.poll() is None


def test_frame_without_detections_gets_an_empty_answer(client, sameo_node) -> None:
    frame = scene_frame(seed=7, size=96)
    empty = dataclasses.replace(
        frame, boxes=np.zeros((0, 4)), ids=(), class_ids=(), scores=np.zeros(0)
    )
    msg = client.request(empty, 710 * SEC, TIMEOUT, RESEND_S)
    assert msg is not None, sameo_node.log_text()[-3000:]
    assert list(msg.masks) == []


def test_undecodable_bytes_are_logged_and_survived(client, sameo_node: NodeProcess) -> None:
    """Bytes that are no valid CDR of the topic's type: a stamp that cannot be read is dropped
    in the callback, a body that cannot be parsed skips the frame in the worker."""
    frame = scene_frame(seed=6, size=96)
    assert client.request(frame, 699 * SEC, TIMEOUT, RESEND_S) is not None  # both ends matched
    client.image_pub.publish(b"\x00\x01\x00\x00\x07")
    assert sameo_node.wait_log("ignoring a image message: truncated message at byte 4")
    stamp = 700 * SEC
    detections = client.codec.encode(client.detections_message(frame, stamp))
    client.image_pub.publish(client.codec.encode(client.image_message(frame.rgb, stamp)))
    client.detections_pub.publish(detections[: len(detections) // 2])
    assert sameo_node.wait_log(f"skipping frame at {stamp * 1e-9:.6f} s: ")
    assert client.request(frame, 701 * SEC, TIMEOUT, RESEND_S) is not None
    assert sameo_node.process.poll() is None


def test_declared_parameters_match_config(client) -> None:
    from rcl_interfaces.srv import DescribeParameters, ListParameters

    node = client.node
    lister = node.create_client(ListParameters, "/sameo/list_parameters")
    describer = node.create_client(DescribeParameters, "/sameo/describe_parameters")
    assert lister.wait_for_service(TIMEOUT) and describer.wait_for_service(TIMEOUT)
    names = set(_call(lister, ListParameters.Request()).result.names) - ROS_BUILTIN_PARAMETERS
    assert names == set(PARAMETERS)
    request = DescribeParameters.Request(names=sorted(PARAMETERS))
    described = _call(describer, request).descriptors
    assert {d.name: d.description for d in described} == DESCRIPTIONS


def _call(service_client, request):
    import time

    future = service_client.call_async(request)
    deadline = time.monotonic() + TIMEOUT
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert future.done()
    return future.result()


def test_invalid_parameter_stops_the_node_with_a_clear_message(ros_env, tmp_path) -> None:
    from .conftest import launch_node

    node = launch_node(
        ros_env,
        tmp_path / "bad.log",
        namespace="/bad_params",
        variant="test",
        qos_reliability="sometimes",
    )
    assert node.process.wait(TIMEOUT) == 2
    assert "parameter 'qos_reliability' must be one of" in node.log_text()


@pytest.mark.parametrize("name", ["AmodalMask", "AmodalMaskArray", "FrameStats"])
def test_replay_type_hashes_match_the_built_messages(ros_env, name: str) -> None:
    """Bags written by the replay tool carry the hashes `ros2 bag play` checks against."""
    import json

    from sameo_ros.bagtypes import VISION_TYPES, output_typestore, types_from_dir
    from sameo_ros.process import DEFAULT_INSTALL

    from .bag_helpers import VISION_MSGS

    store = output_typestore(types_from_dir(VISION_MSGS, "vision_msgs", VISION_TYPES))
    built = DEFAULT_INSTALL / "sameo_ros" / "share" / "sameo_ros" / "msg" / f"{name}.json"
    expected = json.loads(built.read_text())["type_hashes"][0]
    assert expected["type_name"] == f"sameo_ros/msg/{name}"
    assert store.hash_rihs01(f"sameo_ros/msg/{name}") == expected["hash_string"]


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


def test_dds_sockets_stay_on_loopback(client, sameo_node: NodeProcess) -> None:
    addresses = _udp_addresses(sameo_node.process.pid)
    assert addresses, "no UDP sockets found"
    outside = {a for a in addresses if not (a.startswith("127.") or a.startswith("239.255."))}
    assert not outside, f"sameo_node has UDP sockets on {outside}"
