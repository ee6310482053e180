"""Object permanence over real DDS (issue 19, "Done when"): with the demo model, an object that
passes fully behind an occluder for 10 frames or more stays in amodal_masks as STATE_HIDDEN with
its track id and comes back with the same id; with `tracking: false` (switched at run time) every
mask has track_id 0 and no hidden object is published.

The sequence is `occlusion_sequence(DEMO_SEED)` (the one `make demo` shows): a procedural 30-fps
video whose ground truth says which frames hide the target whole, and a seeded simulated detector
(modal boxes, unstable detector ids), so the test knows what the node must report.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sameo_core.tracking import TrackState
from sameo_ros.harness.occlusion_sequence import occlusion_sequence, permanence, target_seen
from sameo_ros.harness.tracking_demo import DEMO_SEED, stream_sequence

from .conftest import SEC, TIMEOUT, NodeProcess, demo_checkpoint, launch_node
from .ros_calls import set_parameters

NAMESPACE = "/tracking_test"
NODE = f"{NAMESPACE}/sameo"


@pytest.fixture(scope="module")
def tracking_node(ros_env, tmp_path_factory) -> Iterator[NodeProcess]:
    node = launch_node(ros_env, tmp_path_factory.mktemp("tracking") / "node.log",
                       namespace=NAMESPACE, checkpoint=str(demo_checkpoint()),
                       qos_reliability="reliable", debug_image=False)  # fmt: skip
    yield node
    assert node.stop() == 0, node.tail()
    assert "Traceback" not in node.log_text(), node.tail()


@pytest.fixture(scope="module")
def client(tracking_node: NodeProcess) -> Iterator:
    from sameo_ros.harness.node_client import SameoClient

    client = SameoClient(name="tracking_client", namespace=NAMESPACE)
    try:
        assert client.wait_for_node(2 * TIMEOUT), tracking_node.tail()
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def sequence():
    sequence = occlusion_sequence(DEMO_SEED)
    assert len(sequence.hidden_frames) >= 10  # the "fully hidden for ≥ 10 frames"
    return sequence


def test_a_fully_hidden_object_keeps_its_id_and_comes_back_with_it(
    client, tracking_node: NodeProcess, sequence
) -> None:
    answers = stream_sequence(client, sequence, TIMEOUT, first_stamp=100 * SEC)
    assert all(a is not None for a in answers), tracking_node.tail()
    seen = [target_seen(a, truth) for a, truth in zip(answers, sequence.target_amodal)]
    figures = permanence(sequence, seen)
    track = figures["target_track"]
    assert track >= 1, f"the target had no track before it was hidden: {seen}"
    # in every frame that hides it whole, it is in the output as HIDDEN with its id ...
    assert figures["reported_hidden"] == figures["hidden_frames"] >= 10, (figures, seen)
    waited = 0.0
    for k in sequence.hidden_frames:
        (m,) = [m for m in answers[k].masks if m.track_id == track]
        assert (m.id, m.track_state) == ("", TrackState.HIDDEN)
        assert (m.visible_mask.width, m.visible_mask.height) == (0, 0) and m.visible_fraction == 0
        assert m.seconds_hidden > waited and m.mask.width > 0  # carried: its amodal mask
        waited = m.seconds_hidden
        detected = [x for x in answers[k].masks if x.id]  # the detections come first
        assert answers[k].masks[: len(detected)] == detected
    # ... and it comes back with the same id, detected (the detector's id is a new one)
    back = figures["back_with_same_id_at"]
    assert back is not None, (figures, seen[sequence.hidden_frames[-1]:])
    stamp = 100 * SEC + round(sequence.stamps[-1] * 1e9)
    stats = client.wait_stats(stamp, TIMEOUT)
    assert stats is not None and 0.0 < stats.tracker_ms < stats.total_ms
    # a stamp before the previous one (a bag loop): the tracks reset, with a warning, new ids
    again = client.request(sequence.frames[0], 50 * SEC, TIMEOUT)
    assert again is not None and tracking_node.wait_log("tracker: stamp went backwards")
    assert all(m.track_id > track or m.track_id == 0 for m in again.masks)


def test_tracking_false_gives_track_id_0_and_no_hidden_objects(
    client, tracking_node: NodeProcess, sequence
) -> None:
    (refused,) = set_parameters(client.node, NODE, hidden_timeout=-1.0)
    assert not refused.successful and "'hidden_timeout' must be > 0" in refused.reason
    assert set_parameters(client.node, NODE, tracking=False)[0].successful
    try:
        start = sequence.hidden_frames[0] - 3  # the target goes out of sight, and stays there
        part = sequence.frames[start : start + 10]
        stamps = sequence.stamps[start : start + 10]
        for k, (frame, stamp) in enumerate(zip(part, stamps)):
            msg = client.request(frame, 200 * SEC + round(stamp * 1e9), TIMEOUT)
            assert msg is not None, tracking_node.tail()
            assert [m.id for m in msg.masks] == list(frame.ids), k  # detections only
            assert all((m.track_id, m.track_state, m.age) == (0, 0, 0) for m in msg.masks)
        assert tracking_node.wait_log("tracks ended (tracking switched)"), tracking_node.tail()
    finally:
        assert set_parameters(client.node, NODE, tracking=True)[0].successful
