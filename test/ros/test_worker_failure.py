"""The inference worker never dies silently: a failing step drops that frame only, and a worker
that ends anyway is reported as ERROR on /diagnostics and ends the process with a non-zero code
(for a supervisor to restart it). Failures are injected with fixtures/instrumented_node.py."""

from __future__ import annotations

from sameo_ros.harness.synthetic_frames import scene_frame

from .conftest import SEC, TIMEOUT, launch_instrumented_node, send_until_logged
from .ros_calls import DiagnosticsListener, level

RESEND_S = 5.0


def _client(namespace: str):
    from sameo_ros.harness.node_client import SameoClient

    client = SameoClient(name="failure_client", namespace=namespace)
    assert client.wait_for_node(TIMEOUT)
    return client


def test_a_failing_step_drops_the_frame_and_the_next_is_served(ros_env, tmp_path) -> None:
    namespace = "/failing_steps"
    node = launch_instrumented_node(ros_env, tmp_path / "node.log",
                                    "model:raise-once,publish:raise-once", namespace,
                                    variant="test")  # fmt: skip
    try:
        assert node.wait_log("]: ready", TIMEOUT), node.tail()
        client = _client(namespace)
        try:
            frame = scene_frame(seed=50, size=96)
            failed = "skipping frame at 60.000000 s: model failed"  # the model step fails
            assert send_until_logged(client, node, frame, 60 * SEC, failed), node.tail()
            failed = "skipping frame at 61.000000 s: publishing failed"  # publishing fails
            assert send_until_logged(client, node, frame, 61 * SEC, failed), node.tail()
            assert client.request(frame, 62 * SEC, TIMEOUT, RESEND_S) is not None, node.tail()
            assert client.wait_masks(60 * SEC, 0.1) is None
        finally:
            client.close()
        assert node.process.poll() is None
    finally:
        assert node.stop() == 0, node.tail()


def test_a_worker_that_ends_is_reported_and_ends_the_node(ros_env, tmp_path) -> None:
    namespace = "/dying_worker"
    node = launch_instrumented_node(ros_env, tmp_path / "node.log", "worker:raise-after=1",
                                    namespace, variant="test")  # fmt: skip
    try:
        assert node.wait_log("]: ready", TIMEOUT), node.tail()
        client = _client(namespace)
        try:
            listener = DiagnosticsListener(client.node, f"{namespace}/sameo: ")
            assert client.request(scene_frame(seed=51, size=96), 70 * SEC, TIMEOUT, RESEND_S)
            error = listener.wait_for(lambda s: level(s) == 2)
            assert error is not None, node.tail()
            assert "inference worker ended" in error.message
            assert "injected failure outside the per-frame guard" in error.message
        finally:
            client.close()
        assert node.process.wait(TIMEOUT) == 1, node.tail()
    finally:
        node.stop()
    log = node.log_text()
    assert "inference worker ended" in log and "exiting with code 1" in log
