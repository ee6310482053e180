"""The commands of README "ROS 2 node", run as a user runs them: `ros2 launch sameo_ros
sameo.launch.py ...` and `ros2 run sameo_ros sameo_node ...`, each answering a frame over DDS
and stopping cleanly (exit code 0) on the signal a terminal's Ctrl-C sends."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
from pathlib import Path

import numpy as np
import yaml

from sameo_core.camera import PinholeIntrinsics
from sameo_ros.harness.node_process import REPO, launch_env, ros2_executable, start_logged
from sameo_ros.harness.synthetic_frames import camera_info_message, depth_message, scene_frame

from .conftest import SEC, TIMEOUT, NodeProcess, demo_checkpoint
from .ros_calls import get_parameters

READY = "]: ready"
RESEND_S = 5.0


def _start(ros_env: dict[str, str], log: Path, *arguments: str) -> NodeProcess:
    command = [ros2_executable(), *arguments]
    return NodeProcess(start_logged(command, launch_env(ros_env), log), log)


def _stop_cleanly(process: NodeProcess, **options: object) -> None:
    code = process.stop(sig=signal.SIGINT, **options)
    assert code == 0, process.tail()
    assert "Traceback" not in process.log_text(), process.tail()


def _client(name: str, **options: object):
    from sameo_ros.harness.node_client import SameoClient

    client = SameoClient(name=name, **options)
    assert client.wait_for_node(TIMEOUT)
    return client


def test_ros2_launch_serves_remapped_inputs_on_sameo_amodal_masks(ros_env, tmp_path) -> None:
    """The headline command: the demo checkpoint, camera and detector topics remapped, masks on
    the launch file's default output /sameo/amodal_masks."""
    checkpoint = demo_checkpoint().relative_to(REPO)
    launch = _start(
        ros_env, tmp_path / "launch.log", "launch", "sameo_ros", "sameo.launch.py",
        f"checkpoint:={REPO / checkpoint}", "image:=/camera/image_raw",
        "detections:=/detector/detections",
    )  # fmt: skip
    try:
        assert launch.wait_log(READY, 2 * TIMEOUT), launch.tail()
        assert f"loading SAMEO ({REPO / checkpoint}" in launch.log_text()
        topics = {"image": "/camera/image_raw", "detections": "/detector/detections",
                  "amodal_masks": "/sameo/amodal_masks"}  # fmt: skip
        client = _client("camera_and_detector", topics=topics)
        try:
            frame = scene_frame(seed=22, size=128)
            answer = client.request(frame, 30 * SEC, TIMEOUT, RESEND_S)
        finally:
            client.close()
        assert answer is not None, launch.tail()
        assert [m.id for m in answer.masks] == list(frame.ids)
    finally:
        _stop_cleanly(launch)
    assert "process has finished cleanly" in launch.log_text(), launch.tail()


def test_launch_arguments_take_effect(ros_env, tmp_path) -> None:
    """namespace, the input and output remaps, params_file and device reach the node."""
    params = yaml.safe_load((REPO / "config" / "sameo.yaml").read_text())
    params["/**"]["ros__parameters"].update(max_detections=2, variant="test", chunk_size=4)
    params_file = tmp_path / "robot.yaml"
    params_file.write_text(yaml.safe_dump(params))
    launch = _start(
        ros_env, tmp_path / "launch.log", "launch", "sameo_ros", "sameo.launch.py",
        "namespace:=robot1", f"params_file:={params_file}", "device:=cpu",
        "image:=/robot1/cam", "detections:=/robot1/dets", "amodal_masks:=/robot1/masks",
    )  # fmt: skip
    try:
        assert launch.wait_log(READY, 2 * TIMEOUT), launch.tail()
        assert "(random weights, test) on cpu" in launch.log_text()
        topics = {"image": "cam", "detections": "dets", "amodal_masks": "masks"}
        client = _client("robot1_client", namespace="/robot1", topics=topics)
        try:
            answer = client.request(scene_frame(seed=23, size=96, detections=4), 31 * SEC,
                                    TIMEOUT, RESEND_S)  # fmt: skip
            assert answer is not None, launch.tail()
            assert len(answer.masks) == 2  # max_detections from params_file
            names = dict(client.node.get_topic_names_and_types())
            assert {"/robot1/stats", "/robot1/debug_image", "/robot1/masks"} <= set(names)
            assert "/sameo/amodal_masks" not in names
            assert get_parameters(client.node, "/robot1/sameo", "max_detections", "device",
                                  "chunk_size") == {
                "max_detections": 2, "device": "cpu", "chunk_size": 4}  # fmt: skip
        finally:
            client.close()
    finally:
        _stop_cleanly(launch)


def test_ros2_run_with_the_parameter_file(ros_env, tmp_path) -> None:
    run = _start(
        ros_env, tmp_path / "run.log", "run", "sameo_ros", "sameo_node", "--ros-args",
        "--params-file", str(REPO / "config" / "sameo.yaml"), "-p", "variant:=test",
        "-r", "__ns:=/ros2run",
    )  # fmt: skip
    try:
        assert run.wait_log(READY, 2 * TIMEOUT), run.tail()
        client = _client("ros2run_client", namespace="/ros2run")
        try:
            assert client.request(scene_frame(seed=24, size=96), 32 * SEC, TIMEOUT, RESEND_S)
        finally:
            client.close()
    finally:
        _stop_cleanly(run, group=True)  # ros2 run waits for the terminal to signal its group


def test_launch_with_cameras_serves_each_camera_on_its_topics(ros_env, tmp_path) -> None:
    """`cameras:="[head, wrist]"`: one node, each camera on <namespace>/<camera>/...,
    chunk_size: auto from the parameter file, and `tracking:=false`."""
    params = yaml.safe_load((REPO / "config" / "sameo.yaml").read_text())
    params["/**"]["ros__parameters"].update(variant="test")
    params_file = tmp_path / "cameras.yaml"
    params_file.write_text(yaml.safe_dump(params))
    launch = _start(
        ros_env, tmp_path / "launch.log", "launch", "sameo_ros", "sameo.launch.py",
        "namespace:=twocams", f"params_file:={params_file}", "cameras:=[head, wrist]",
        "tracking:=false",
    )  # fmt: skip
    try:
        assert launch.wait_log(READY, 2 * TIMEOUT), launch.tail()
        assert "/twocams/head/image, /twocams/wrist/image" in launch.log_text()
        clients = [_client(f"{c}_cam", namespace=f"/twocams/{c}") for c in ("head", "wrist")]
        try:
            for k, client in enumerate(clients):
                frame = scene_frame(seed=26 + k, size=96, detections=2 + k)
                answer = client.request(frame, (34 + k) * SEC, TIMEOUT, RESEND_S)
                assert answer is not None, launch.tail()
                assert [m.id for m in answer.masks] == list(frame.ids)
            assert get_parameters(clients[0].node, "/twocams/sameo", "cameras", "chunk_size",
                                  "tracking") == {
                "cameras": ["head", "wrist"], "chunk_size": "auto", "tracking": False}  # fmt: skip
        finally:
            for client in clients:
                client.close()
    finally:
        _stop_cleanly(launch)


def test_launch_with_depth_serves_remapped_rgbd_inputs(ros_env, tmp_path) -> None:
    """depth:=true and the remapped depth image, CameraInfo and Detection3DArray topics: a frame
    in, masks and its 3D out."""
    params = yaml.safe_load((REPO / "config" / "sameo.yaml").read_text())
    params["/**"]["ros__parameters"].update(variant="test")
    params_file = tmp_path / "rgbd.yaml"
    params_file.write_text(yaml.safe_dump(params))
    launch = _start(
        ros_env, tmp_path / "launch.log", "launch", "sameo_ros", "sameo.launch.py",
        "namespace:=rgbd1", f"params_file:={params_file}", "depth:=true",
        "image:=/cam/color", "detections:=/cam/dets", "depth_image:=/cam/aligned_depth",
        "camera_info:=/cam/color_info", "detections_3d:=/rgbd1/objects",
    )  # fmt: skip
    try:
        assert launch.wait_log(READY, 2 * TIMEOUT), launch.tail()
        topics = {"image": "/cam/color", "detections": "/cam/dets", "depth": "/cam/aligned_depth",
                  "camera_info": "/cam/color_info", "detections_3d": "/rgbd1/objects",
                  "amodal_masks": "/sameo/amodal_masks"}  # fmt: skip
        client = _client("rgbd_camera", namespace="/rgbd1", topics=topics, depth=True)
        try:
            assert get_parameters(client.node, "/rgbd1/sameo", "depth") == {"depth": True}
            frame = scene_frame(seed=25, size=96)
            camera = PinholeIntrinsics(80.0, 80.0, 47.5, 47.5, 96, 96)
            stamp = 33 * SEC
            header = client.header(stamp)
            inputs = (depth_message(client.types, np.full((96, 96), 1.5), header),
                      camera_info_message(client.types, camera, header))
            answer = client.request(frame, stamp, TIMEOUT, RESEND_S, depth=inputs)
            assert answer is not None, launch.tail()
            found = client.wait_3d(stamp, TIMEOUT)
            assert found is not None and found.detections, launch.tail()
            assert {d.id for d in found.detections} <= set(frame.ids)
            assert all(abs(d.bbox.center.position.z - 1.5) < 1e-3 for d in found.detections)
        finally:
            client.close()
    finally:
        _stop_cleanly(launch)


def test_show_args_lists_every_launch_argument(ros_env) -> None:
    spec = importlib.util.spec_from_file_location("sameo_launch", REPO / "launch" /
                                                  "sameo.launch.py")  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = subprocess.run(
        [ros2_executable(), "launch", "sameo_ros", "sameo.launch.py", "--show-args"],
        env=launch_env(ros_env), capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    names = [name for name, *_ in module.ARGUMENTS]
    assert len(names) == 17
    remapped = {module.REMAP_ARGUMENTS.get(topic, topic) for topic in module.TOPICS}
    assert remapped <= set(names)  # every topic of the node can be remapped by an argument
    for name in names:
        assert f"'{name}':" in out.stdout, out.stdout
