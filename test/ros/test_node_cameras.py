"""One sameo_node for several cameras over real DDS (README, "ROS 2 node"): each camera is
answered on its own topics with the masks the library gives for its frame, and a camera that
goes silent or sends garbage never stalls the others (/diagnostics says which camera is stale and
which one skips frames).

The node runs the trained demo model, so that "the right answer" means the masks of the camera's
own frame (the library's, computed here on the same messages).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sameo_core.geometry import RoiMask
from sameo_ros.conversions import mono8_to_mask
from sameo_ros.harness.synthetic_frames import scene_frame
from sameo_ros.params import NodeConfig
from sameo_ros.pipeline import FrameInputs, FramePipeline

from .conftest import SEC, TIMEOUT, NodeProcess, demo_checkpoint, launch_node
from .ros_calls import DiagnosticsListener, level, values

NAMESPACE = "/robot"
CAMERAS = ("head", "wrist", "base")
RESEND_S = 5.0
SIZE = 128


@pytest.fixture(scope="module")
def cameras_node(ros_env, tmp_path_factory) -> Iterator[NodeProcess]:
    # tracking off: each answer must be the library's for that frame alone (the frames are
    # independent scenes; each camera's tracks: test_camera_tracks.py, test_node_tracking.py)
    node = launch_node(ros_env, tmp_path_factory.mktemp("cameras") / "node.log",
                       namespace=NAMESPACE, checkpoint=str(demo_checkpoint()),
                       cameras=list(CAMERAS), debug_image=False, tracking=False)  # fmt: skip
    assert node.wait_log("]: ready", 2 * TIMEOUT), node.tail()
    yield node
    assert node.stop() == 0, node.tail()
    assert "Traceback" not in node.log_text(), node.tail()


@pytest.fixture(scope="module")
def library() -> FramePipeline:
    """The library's pipeline with the node's model: the right answers."""
    return FramePipeline.from_config(NodeConfig(checkpoint=str(demo_checkpoint())))


@pytest.fixture(scope="module")
def clients(cameras_node: NodeProcess) -> Iterator[dict]:
    """A camera-and-detector client per camera, on the camera's topics (<namespace>/<camera>/)."""
    from sameo_ros.harness.node_client import SameoClient

    made = {c: SameoClient(name=f"{c}_camera", namespace=f"{NAMESPACE}/{c}") for c in CAMERAS}
    try:
        for client in made.values():
            assert client.wait_for_node(TIMEOUT), cameras_node.tail()
        yield made
    finally:
        for client in made.values():
            client.close()


def _check_right_answer(answer, library: FramePipeline, client, frame, stamp: int) -> None:
    """`answer` is the library's result for this frame: same ids, masks of IoU >= 0.98 (the
    node runs on another number of torch threads than this process)."""
    expected = library.process(FrameInputs(client.image_message(frame.rgb, stamp),
                                           client.detections_message(frame, stamp)))  # fmt: skip
    assert [m.id for m in answer.masks] == [r.id for r in expected.records] == list(frame.ids)
    for got, want in zip(answer.masks, expected.records):
        mask = RoiMask(mono8_to_mask(got.mask), (got.x_offset, got.y_offset)).paste(SIZE, SIZE)
        truth = want.amodal.paste(SIZE, SIZE)
        iou = (mask & truth).sum() / max((mask | truth).sum(), 1)
        assert iou >= 0.98, (got.id, iou)


def test_two_cameras_each_get_their_own_answers(cameras_node, clients, library) -> None:
    """Different frames (3 and 5 detections) on two cameras at the same stamp: each camera's
    AmodalMaskArray and FrameStats come on its own topics, with its own frame's masks."""
    frames = {"head": scene_frame(seed=81, size=SIZE, detections=3),
              "wrist": scene_frame(seed=82, size=SIZE, detections=5)}  # fmt: skip
    stamp = 40 * SEC
    for camera, frame in frames.items():
        clients[camera].send_frame(frame, stamp)
    for camera, frame in frames.items():
        client = clients[camera]
        answer = client.wait_masks(stamp, TIMEOUT) or client.request(frame, stamp, TIMEOUT,
                                                                     RESEND_S)  # fmt: skip
        assert answer is not None, (camera, cameras_node.tail())
        _check_right_answer(answer, library, client, frame, stamp)
        stats = client.wait_stats(stamp, TIMEOUT)
        assert stats is not None and stats.masks == len(frame.ids)
        assert stats.frames_processed == 1  # this camera's count
    assert clients["base"].wait_masks(stamp, 0.5) is None  # nothing crossed over


def _flood(client, frame, stop: threading.Event) -> int:
    """Bad frames (an encoding nobody converts) as fast as the client publishes them."""
    sent, stamp = 0, 500 * SEC
    while not stop.is_set():
        image = client.image_message(frame.rgb, stamp, encoding="hsv8")
        client.publish(image, client.detections_message(frame, stamp), stamp)
        sent, stamp = sent + 1, stamp + SEC // 100
        stop.wait(0.005)
    return sent


def test_a_silent_and_a_flooding_camera_never_stall_the_third(cameras_node, clients,
                                                              library) -> None:  # fmt: skip
    """wrist goes silent and base floods bad frames, while head keeps being answered with right
    answers; /diagnostics has one status per camera: head OK, wrist stale (no pair for more
    than 5 s), base skipping frames."""
    listener = DiagnosticsListener(clients["head"].node, f"{NAMESPACE}/sameo: ")
    stop = threading.Event()
    flood = threading.Thread(target=_flood, args=(clients["base"], scene_frame(seed=83, size=SIZE),
                                                  stop))  # fmt: skip
    flood.start()
    try:
        for k in range(6):
            frame = scene_frame(seed=90 + k, size=SIZE, detections=3)
            stamp = (60 + k) * SEC
            answer = clients["head"].request(frame, stamp, TIMEOUT, RESEND_S)
            assert answer is not None, cameras_node.tail()
            _check_right_answer(answer, library, clients["head"], frame, stamp)
        base = "/robot/sameo: amodal segmentation"
        statuses = {}
        for camera, expected in (("wrist", "no image/detections pair for more than 5 s"),
                                 ("base", "frames skipped"), ("head", "active")):  # fmt: skip
            statuses[camera] = listener.wait_for(
                lambda s, c=camera, e=expected: s.name == f"{base} ({c})" and e in s.message,
                timeout=TIMEOUT,
            )
            assert statuses[camera] is not None, (camera, listener.statuses[-6:])
        assert level(statuses["wrist"]) == level(statuses["base"]) == 1
        assert level(statuses["head"]) == 0
        assert int(values(statuses["base"])["frames skipped"]) >= 1
        assert int(values(statuses["head"])["frames skipped"]) == 0
    finally:
        stop.set()
        flood.join(TIMEOUT)
    assert cameras_node.wait_log("skipping base frame at"), cameras_node.tail()
    assert cameras_node.process.poll() is None
    names = {s.name for s in listener.statuses}
    assert names == {f"/robot/sameo: amodal segmentation ({c})" for c in CAMERAS}


def test_a_camera_name_scopes_its_topics(clients) -> None:
    topics = dict(clients["head"].node.get_topic_names_and_types())
    for camera in CAMERAS:
        for name in ("image", "detections", "amodal_masks", "stats", "debug_image"):
            assert f"{NAMESPACE}/{camera}/{name}" in topics, (camera, name)
    assert f"{NAMESPACE}/image" not in topics and f"{NAMESPACE}/amodal_masks" not in topics
