"""Fixtures for the tests that run sameo_node as a real process over DDS.

The workspace comes from `make ros` (.ros_ws/install). Every test session uses its own random
ROS_DOMAIN_ID and keeps DDS on the loopback interface (see sameo_ros/harness/node_process.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest

from sameo_ros.harness.node_process import (
    REPO,
    activate_isolated_workspace,
    node_command,
    start_configured_node,
    start_logged,
    stop_node,
)

DEMO_CHECKPOINT = REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt"
INSTRUMENTED_NODE = Path(__file__).resolve().parent / "fixtures" / "instrumented_node.py"
SEC = 1_000_000_000
TIMEOUT = 60.0  # generous: the machine is shared, DDS discovery and model loading vary


def pytest_configure(config: pytest.Config) -> None:
    # rosidl's parser (imported through rclpy) uses lark-parser 0.12, which imports sre_parse.
    config.addinivalue_line("filterwarnings", "ignore:module 'sre_:DeprecationWarning:lark")


def demo_checkpoint() -> Path:
    """The shipped demo model; its absence is an error, not a skip (mask content needs it)."""
    if not DEMO_CHECKPOINT.is_file():
        raise FileNotFoundError(f"demo checkpoint missing: {DEMO_CHECKPOINT}")
    return DEMO_CHECKPOINT


@dataclass
class NodeProcess:
    process: Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            if self.process.poll() is not None:
                return text in self.log_text()
            time.sleep(0.05)
        return False

    def tail(self) -> str:
        return self.log_text()[-4000:]

    def stop(self, **options: object) -> int:
        return stop_node(self.process, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ros_env() -> Iterator[dict[str, str]]:
    """The built workspace + isolated DDS, active in this process with rclpy initialised."""
    env = activate_isolated_workspace()
    import rclpy

    rclpy.init()
    yield env
    rclpy.shutdown()


def send_until_logged(client, node: NodeProcess, frame, stamp: int, text: str) -> bool:
    """Send `frame` at `stamp` until the node logs `text`. The first messages after discovery can
    be lost (the node's inputs are best-effort), most often on a loaded machine."""
    for _ in range(int(TIMEOUT / 10)):
        client.send_frame(frame, stamp)
        if node.wait_log(text, 10.0):
            return True
    return False


def launch_node(
    env: dict[str, str], log: Path, namespace: str = "", **parameters: object
) -> NodeProcess:
    """sameo_node with config/sameo.yaml plus `parameters`, in `namespace` (tests that start
    their own node use one, so that they do not talk to the session's node)."""
    return NodeProcess(start_configured_node(env, log, parameters, namespace=namespace), log)


def launch_instrumented_node(
    env: dict[str, str], log: Path, inject: str, namespace: str, **parameters: object
) -> NodeProcess:
    """sameo_node's main() with the delays or faults of `inject` (fixtures/instrumented_node.py)
    in the test's own interpreter, otherwise exactly as launch_node starts it."""
    command = node_command(
        params_file=REPO / "config" / "sameo.yaml",
        parameters=parameters,
        remaps={"__ns": namespace},
    )
    command = [sys.executable, str(INSTRUMENTED_NODE), *command[1:]]
    return NodeProcess(start_logged(command, dict(env, SAMEO_TEST_INJECT=inject), log), log)


@pytest.fixture(scope="session")
def sameo_node(
    ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """sameo_node with a small random-weight model (protocol tests, not mask quality)."""
    node = launch_node(
        ros_env, tmp_path_factory.mktemp("node") / "sameo_node.log", variant="test", sync_slop=0.05
    )
    yield node
    code = node.stop()
    assert code == 0, f"sameo_node exited with {code}:\n{node.tail()}"
    assert "Traceback" not in node.log_text(), node.tail()
