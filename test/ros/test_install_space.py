"""What CMake installs is what runs on a robot: the node, its runtime modules, the launch file,
the configuration and the generated messages, and nothing of the test and benchmark harness."""

from __future__ import annotations

import re

from sameo_ros.harness.node_process import DEFAULT_INSTALL, REPO

RUNTIME_MODULES = {
    "camera_ports.py", "camera_tracks.py", "conversions.py", "diagnostics.py", "frame_worker.py",
    "image_formats.py", "latency_stats.py", "latest.py", "messages.py", "node.py", "overlay.py",
    "pairing.py", "params.py", "pipeline.py", "replay.py", "serving.py",
}  # fmt: skip
PACKAGE = DEFAULT_INSTALL / "sameo_ros"


def _site_packages():
    (found,) = (PACKAGE / "lib").glob("python3*/site-packages/sameo_ros")
    return found


def test_the_installed_python_package_holds_exactly_the_runtime_modules() -> None:
    installed = _site_packages()
    ours = {p.name for p in installed.glob("*.py")} - {"__init__.py"}  # __init__: generated
    assert ours == RUNTIME_MODULES
    folders = {p.name for p in installed.iterdir() if p.is_dir()} - {"__pycache__"}
    assert folders == {"msg", "srv"}  # generated messages and services, no harness
    generated = {p.name for p in installed.iterdir() if p.is_file()} - ours - {"__init__.py"}
    assert all(re.match(r"_?sameo_ros_s[._]", name) for name in generated), generated


def test_the_runtime_modules_are_the_packages_non_harness_modules() -> None:
    source = {p.name for p in (REPO / "sameo_ros").glob("*.py")} - {"__init__.py"}
    assert source == RUNTIME_MODULES  # a new module must be listed in CMakeLists.txt
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert all(name in cmake for name in RUNTIME_MODULES)
    assert not (_site_packages() / "harness").exists()


def test_executables_launch_and_config() -> None:
    assert {p.name for p in (PACKAGE / "lib" / "sameo_ros").iterdir()} == {"sameo_node"}
    share = PACKAGE / "share" / "sameo_ros"
    assert {p.name for p in (share / "launch").iterdir()} == {"sameo.launch.py"}
    assert {p.name for p in (share / "config").iterdir()} == {"sameo.yaml"}
    interfaces = {p.name for p in (share / "srv").glob("*.srv")} | {
        p.name for p in (share / "msg").glob("*.msg")
    }
    assert interfaces == {"AmodalMask.msg", "AmodalMaskArray.msg", "FrameStats.msg",
                          "PointPrompts.msg", "SegmentAmodal.srv"}  # fmt: skip
