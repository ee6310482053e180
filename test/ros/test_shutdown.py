"""sameo_node stops cleanly on SIGINT and SIGTERM in every phase: idle, mid-frame, mid-publish,
during cleanup, and with a second signal: exit code 0, no traceback, the model released, and a
frame in progress still answered. The phases are reached with fixtures/instrumented_node.py,
which holds the node at a step for a few seconds and says so on stdout."""

from __future__ import annotations

import signal

import pytest

from sameo_ros.harness.synthetic_frames import scene_frame

from .conftest import SEC, TIMEOUT, launch_instrumented_node, send_until_logged

HOLD = "sleep=3"


def _client(namespace: str):
    from sameo_ros.harness.node_client import SameoClient

    client = SameoClient(name="shutdown_client", namespace=namespace)
    assert client.wait_for_node(TIMEOUT)
    return client


CASES = {
    "idle-SIGINT": ("", None, [signal.SIGINT]),
    "idle-SIGTERM": ("", None, [signal.SIGTERM]),
    "mid-frame-SIGTERM": (f"model:{HOLD}", "model", [signal.SIGTERM]),
    "mid-publish-SIGINT": (f"publish:{HOLD}", "publish", [signal.SIGINT]),
    "second-signal-mid-frame": (f"model:{HOLD}", "model", [signal.SIGINT, signal.SIGINT]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stop_in_each_phase(ros_env, tmp_path, case: str) -> None:
    inject, phase, signals = CASES[case]
    namespace = "/shutdown_" + case.replace("-", "_").lower()
    node = launch_instrumented_node(ros_env, tmp_path / "node.log", inject, namespace,
                                    variant="test")  # fmt: skip
    try:
        assert node.wait_log("]: ready", TIMEOUT), node.tail()
        client = _client(namespace)
        try:
            stamp = 50 * SEC
            if phase is not None:
                frame = scene_frame(seed=40, size=96)
                assert send_until_logged(client, node, frame, stamp, f"injected {phase}"), (
                    node.tail()
                )
            for sig in signals:
                node.process.send_signal(sig)
            if phase is not None:  # the frame in progress is finished and published
                assert client.wait_masks(stamp, TIMEOUT) is not None, node.tail()
            assert node.process.wait(TIMEOUT) == 0, node.tail()
        finally:
            client.close()
    finally:
        node.stop()
    log = node.log_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert f"{signal.Signals(signals[0]).name}: shutting down" in log
    assert "model released" in log
    if phase == "model":
        assert "finishing the frame in progress" in log


def test_signals_during_cleanup_are_ignored(ros_env, tmp_path) -> None:
    node = launch_instrumented_node(ros_env, tmp_path / "node.log", f"cleanup:{HOLD}",
                                    "/shutdown_cleanup", variant="test")  # fmt: skip
    try:
        assert node.wait_log("]: ready", TIMEOUT), node.tail()
        node.process.send_signal(signal.SIGINT)
        assert node.wait_log("injected cleanup", TIMEOUT), node.tail()
        node.process.send_signal(signal.SIGINT)
        node.process.send_signal(signal.SIGTERM)
        assert node.process.wait(TIMEOUT) == 0, node.tail()
    finally:
        node.stop()
    log = node.log_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert "model released" in log
