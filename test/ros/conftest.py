"""Fixtures for the tests that run sameo_node as a real process over DDS.

The workspace comes from `make ros` (.ros_ws/install). Every test session uses its own random
ROS_DOMAIN_ID and keeps DDS on the loopback interface (see sameo_ros/process.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest

from sameo_ros.process import activate_isolated_workspace, start_configured_node, stop_node


def pytest_configure(config: pytest.Config) -> None:
    # rosidl's parser (imported through rclpy) uses lark-parser 0.12, which imports sre_parse.
    config.addinivalue_line("filterwarnings", "ignore:module 'sre_:DeprecationWarning:lark")


@dataclass
class NodeProcess:
    process: Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            time.sleep(0.1)
        return False


@pytest.fixture(scope="session")
def ros_env() -> Iterator[dict[str, str]]:
    """The built workspace + isolated DDS, active in this process with rclpy initialised."""
    env = activate_isolated_workspace()
    import rclpy

    rclpy.init()
    yield env
    rclpy.shutdown()


def launch_node(
    env: dict[str, str], log: Path, namespace: str = "", **parameters: object
) -> NodeProcess:
    """sameo_node in `namespace` (tests that start their own node use one, so that they do not
    talk to the session's node)."""
    return NodeProcess(start_configured_node(env, log, parameters, namespace=namespace), log)


@pytest.fixture(scope="session")
def sameo_node(
    ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """sameo_node with a small random-weight model (protocol tests, not mask quality)."""
    node = launch_node(
        ros_env, tmp_path_factory.mktemp("node") / "sameo_node.log", variant="test", sync_slop=0.05
    )
    yield node
    code = stop_node(node.process)
    assert code == 0, f"sameo_node exited with {code}:\n{node.log_text()[-3000:]}"
