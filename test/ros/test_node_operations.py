"""Operating the running node over DDS: run-time parameter changes, the segment service and
/diagnostics (the session's node, conftest.sameo_node)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from sameo_ros.harness.synthetic_frames import scene_frame
from sameo_ros.params import RUNTIME_PARAMETERS

from .conftest import SEC, TIMEOUT, NodeProcess
from .ros_calls import (
    DiagnosticsListener,
    detections,
    get_parameters,
    level,
    set_parameters,
    values,
)
from .test_node import check_masks

NODE = "/sameo"
RESEND_S = 2.0
_CLIENTS = itertools.count()


@pytest.fixture
def client(sameo_node: NodeProcess) -> Iterator:
    from sameo_ros.harness.node_client import SameoClient

    client = SameoClient(name=f"operator_{next(_CLIENTS)}")
    assert client.wait_for_node(TIMEOUT), sameo_node.tail()
    yield client
    client.close()


def test_runtime_parameters_take_effect_from_the_next_frame(client, sameo_node) -> None:
    frame = scene_frame(seed=3, size=96, detections=4)
    before = client.request(frame, 900 * SEC, TIMEOUT, RESEND_S)
    assert before is not None and len(detections(before)) == 4
    try:
        results = set_parameters(client.node, NODE, max_detections=2, mask_threshold=2.0)
        assert all(r.successful for r in results), [r.reason for r in results]
        assert sameo_node.wait_log("parameters changed: max_detections=2")
        after = client.request(frame, 901 * SEC, TIMEOUT, RESEND_S)
        assert after is not None and len(detections(after)) == 2
        kept = np.argsort(-frame.scores)[:2]
        assert [m.id for m in detections(after)] == [frame.ids[i] for i in sorted(kept)]
        for old, new in zip([before.masks[i] for i in sorted(kept)], detections(after)):
            assert new.mask.width * new.mask.height <= old.mask.width * old.mask.height
        assert set_parameters(client.node, NODE, score_threshold=2.0)[0].successful
        assert detections(client.request(frame, 902 * SEC, TIMEOUT, RESEND_S)) == []
    finally:
        restored = set_parameters(
            client.node, NODE, max_detections=20, mask_threshold=0.0, score_threshold=0.0
        )
        assert all(r.successful for r in restored)


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(device="cuda"), "'device' is read when the model is loaded"),
        (dict(checkpoint="/elsewhere.pt"), "'checkpoint' is read when the model is loaded"),
        (dict(max_detections=0), "'max_detections' must be >= 1"),
        (dict(max_detections=10**12), "'max_detections' must be <= 256"),
        (dict(score_threshold=float("nan")), "'score_threshold' must be finite"),
    ],
)
def test_invalid_or_fixed_parameters_are_refused_with_the_reason(client, change, reason) -> None:
    (result,) = set_parameters(client.node, NODE, **change)
    assert not result.successful and reason in result.reason
    assert "changeable at run time" in result.reason or "must be" in result.reason
    name = next(iter(change))
    assert get_parameters(client.node, NODE, name)[name] != change[name]  # unchanged


def test_debug_image_can_be_switched_off_at_run_time(client, sameo_node) -> None:
    from sameo_ros.harness.node_client import SameoClient

    watcher = SameoClient(debug_image=True, name=f"debug_watcher_{next(_CLIENTS)}")
    try:
        assert watcher.wait_for_node(TIMEOUT)
        frame = scene_frame(seed=4, size=96)
        assert watcher.request(frame, 910 * SEC, TIMEOUT, RESEND_S) is not None
        assert watcher.wait_debug(910 * SEC, TIMEOUT) is not None
        assert set_parameters(client.node, NODE, debug_image=False)[0].successful
        assert watcher.request(frame, 911 * SEC, TIMEOUT, RESEND_S) is not None
        # Stats go out after the debug image would have: once they are in, none may follow.
        assert watcher.wait_stats(911 * SEC, TIMEOUT) is not None
        assert watcher.wait_debug(911 * SEC, 1.0) is None
    finally:
        assert set_parameters(client.node, NODE, debug_image=True)[0].successful
        watcher.close()
    assert set(RUNTIME_PARAMETERS) == {
        "score_threshold", "mask_threshold", "max_detections", "debug_image", "tracking",
        "hidden_timeout", "max_stamp_jump", "max_tracks", "visible_threshold", "hidden_cover",
        "recover_min_iou", "recover_min_overlap",
    }  # fmt: skip


def test_segment_service_answers_and_reuses_the_encoded_image(client, sameo_node) -> None:
    frame = scene_frame(seed=11, size=96, detections=3)
    stamp = 950 * SEC
    first = client.call_segment(client.segment_request(frame, stamp), TIMEOUT)
    assert first is not None and first.error == "" and first.rejected == []
    check_masks(first.masks, frame, stamp)
    # each request alone: no tracks, whatever the topics' tracking
    assert len(first.masks.masks) == 3 and all(m.track_id == 0 for m in first.masks.masks)
    moved = dataclasses.replace(frame, boxes=frame.boxes + 2.0)
    again = client.call_segment(client.segment_request(moved, stamp), TIMEOUT)
    assert again is not None and again.error == ""
    check_masks(again.masks, moved, stamp)
    # same boxes once more: the decoder alone gives exactly the first answer's masks
    same = client.call_segment(client.segment_request(frame, stamp), TIMEOUT)
    for a, b in zip(first.masks.masks, same.masks.masks):
        assert (a.x_offset, a.y_offset, bytes(a.mask.data)) == (b.x_offset, b.y_offset,
                                                                bytes(b.mask.data))  # fmt: skip


def test_segment_service_takes_point_prompts(client) -> None:
    from sameo_ros.msg import PointPrompts
    from vision_msgs.msg import Point2D

    frame = scene_frame(seed=12, size=96, detections=2)
    centers = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in frame.boxes]
    points = [PointPrompts(points=[Point2D(x=x, y=y)], labels=[1]) for x, y in centers]
    response = client.call_segment(client.segment_request(frame, 960 * SEC, points), TIMEOUT)
    assert response.error == "" and len(response.masks.masks) == 2


def _spoiled_requests(client, frame, stamp: int) -> list[tuple[object, str]]:
    from sameo_ros.msg import PointPrompts
    from vision_msgs.msg import Point2D

    def request(**image_fields: object):
        r = client.segment_request(frame, stamp)
        for name, value in image_fields.items():
            setattr(r.image, name, value)
        return r

    too_many = request()
    too_many.points = [PointPrompts(), PointPrompts(), PointPrompts(points=[Point2D()],
                                                                      labels=[1])]  # fmt: skip
    unlabelled = request()
    unlabelled.points = [PointPrompts(points=[Point2D()], labels=[]), PointPrompts()]
    return [
        (request(encoding="hsv8"), "unsupported image encoding 'hsv8'"),
        (request(height=3), "image data has"),
        (too_many, "3 point prompts for 2 detections"),
        (unlabelled, "detection 0: 1 points but 0 labels"),
    ]


def test_a_bad_segment_request_gets_an_empty_answer_with_the_error(client) -> None:
    frame = scene_frame(seed=13, size=96, detections=2)
    for request, error in _spoiled_requests(client, frame, 970 * SEC):
        response = client.call_segment(request, TIMEOUT)
        assert response is not None and error in response.error, response
        assert list(response.masks.masks) == [] and response.masks.header.stamp.sec == 970
    good = client.call_segment(client.segment_request(frame, 971 * SEC), TIMEOUT)
    assert good.error == "" and len(good.masks.masks) == 2  # the service lives on


def test_diagnostics_report_rates_memory_and_warnings(client, sameo_node) -> None:
    listener = DiagnosticsListener(client.node, f"{NODE}: ")
    frame = scene_frame(seed=14, size=96)
    assert client.request(frame, 980 * SEC, TIMEOUT, RESEND_S) is not None
    ok = listener.wait_for(lambda s: level(s) == 0 and values(s)["state"] == "active")
    assert ok is not None, listener.statuses[-3:]
    v = values(ok)
    assert int(v["frames processed"]) >= 1 and v["device"] == "cpu"
    assert float(v["model memory (MiB)"]) > 0
    for key in ("rate (fps)", "latency p50 (ms)", "latency p99 (ms)", "pairs dropped",
                "detections unpaired", "frames skipped"):  # fmt: skip
        assert key in v
    before_bad = listener.count
    bad = client.image_message(frame.rgb, 981 * SEC, encoding="hsv8")
    client.publish(bad, client.detections_message(frame, 981 * SEC), 981 * SEC)
    warn = listener.wait_for(lambda s: level(s) == 1, after=before_bad)
    assert warn is not None and "frames skipped" in warn.message, listener.statuses[-3:]
    after_warn = listener.statuses.index(warn) + 1
    assert client.request(frame, 982 * SEC, TIMEOUT, RESEND_S) is not None
    assert listener.wait_for(lambda s: level(s) == 0, after=after_warn) is not None  # OK again
