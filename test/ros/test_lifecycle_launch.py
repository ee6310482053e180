"""The managed node (launch `managed:=true`), started by the real launch system (launch_testing),
taken through every lifecycle transition over DDS with its lifecycle services.

configure fails on a missing checkpoint (clear error, node alive and unconfigured), then works
once the parameter is fixed; activate serves frames and the service; deactivate stops serving;
cleanup releases the model; configure + activate work again; shutdown ends the process with
exit code 0.
"""

from __future__ import annotations

import time
import unittest

import launch_testing
import launch_testing.actions
import launch_testing.asserts
import pytest

import launch

from .conftest import SEC, TIMEOUT, demo_checkpoint

NAMESPACE = "/managed_test"
NODE = f"{NAMESPACE}/sameo"
MISSING = "/nonexistent/sameo.pt"


@pytest.mark.launch_test
def generate_test_description() -> launch.LaunchDescription:
    import os

    from sameo_ros.harness.node_process import activate_isolated_workspace, launch_env

    os.environ.update(launch_env(activate_isolated_workspace()))
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import PathJoinSubstitution
    from launch_ros.substitutions import FindPackageShare

    sameo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("sameo_ros"), "launch", "sameo.launch.py"])
        ),
        launch_arguments={
            "managed": "true", "namespace": NAMESPACE.strip("/"), "checkpoint": MISSING,
            "amodal_masks": "amodal_masks",
        }.items(),
    )  # fmt: skip
    return launch.LaunchDescription([sameo, launch_testing.actions.ReadyToTest()])


def _eventually(condition, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class TestLifecycle(unittest.TestCase):
    def test_every_transition(self, proc_output) -> None:
        import rclpy
        from rclpy.context import Context

        from sameo_ros.harness.node_client import SameoClient
        from sameo_ros.harness.synthetic_frames import scene_frame

        from .ros_calls import (
            DiagnosticsListener,
            change_state,
            level,
            lifecycle_state,
            set_parameters,
        )

        context = Context()
        rclpy.init(context=context)
        client = SameoClient(name="lifecycle_manager", namespace=NAMESPACE, context=context)
        node = client.node
        try:
            diagnostics = DiagnosticsListener(node, f"{NODE}: ")
            wait_log = proc_output.assertWaitFor
            wait_log("managed: waiting for the configure transition", timeout=TIMEOUT)
            self.assertEqual(lifecycle_state(node, NODE), "unconfigured")

            # configure with a bad checkpoint: a clear error, the node stays up, unconfigured
            self.assertFalse(change_state(node, NODE, "configure"))
            wait_log(f"configure failed: FileNotFoundError: checkpoint not found: {MISSING}",
                     timeout=TIMEOUT)  # fmt: skip
            self.assertEqual(lifecycle_state(node, NODE), "unconfigured")
            error = diagnostics.wait_for(lambda s: level(s) == 2)
            self.assertIsNotNone(error)
            self.assertIn("configure failed", error.message)

            # while unconfigured, startup parameters may change (and are validated)
            (refused,) = set_parameters(node, NODE, device="tpu")
            self.assertFalse(refused.successful)
            self.assertIn("'device' must be cpu or cuda", refused.reason)
            (fixed,) = set_parameters(node, NODE, checkpoint=str(demo_checkpoint()))
            self.assertTrue(fixed.successful, fixed.reason)

            self.assertTrue(change_state(node, NODE, "configure"))
            self.assertEqual(lifecycle_state(node, NODE), "inactive")
            self.assertEqual(client.image_pub.get_subscription_count(), 0)  # not active yet
            (fixed_now,) = set_parameters(node, NODE, checkpoint="")
            self.assertFalse(fixed_now.successful)  # configured: the model is loaded

            self._activate_and_serve(client, node, 40)

            self.assertTrue(change_state(node, NODE, "deactivate"))
            self.assertEqual(lifecycle_state(node, NODE), "inactive")
            wait_log("tracks ended (deactivate)", timeout=TIMEOUT)  # the frame's tracks end
            self.assertTrue(_eventually(lambda: client.image_pub.get_subscription_count() == 0))
            frame = scene_frame(seed=31, size=96)
            client.send_frame(frame, 41 * SEC)
            self.assertIsNone(client.wait_masks(41 * SEC, 3.0))  # no processing when inactive

            self.assertTrue(change_state(node, NODE, "cleanup"))
            self.assertEqual(lifecycle_state(node, NODE), "unconfigured")
            wait_log("model released", timeout=TIMEOUT)

            self.assertTrue(change_state(node, NODE, "configure"))
            self._activate_and_serve(client, node, 42)

            self.assertTrue(change_state(node, NODE, "active_shutdown"))
            wait_log("finalized", timeout=TIMEOUT)
        finally:
            client.close()
            rclpy.shutdown(context=context)

    def _activate_and_serve(self, client, node, second: int) -> None:
        from sameo_ros.harness.synthetic_frames import scene_frame

        from .ros_calls import change_state, lifecycle_state

        self.assertTrue(change_state(node, NODE, "activate"))
        self.assertEqual(lifecycle_state(node, NODE), "active")
        self.assertTrue(client.wait_for_node(TIMEOUT))
        frame = scene_frame(seed=30, size=96)
        answer = client.request(frame, second * SEC, TIMEOUT, 5.0)
        self.assertIsNotNone(answer)
        self.assertEqual([m.id for m in answer.masks], list(frame.ids))
        response = client.call_segment(client.segment_request(frame, second * SEC), TIMEOUT)
        self.assertEqual(response.error, "")
        self.assertEqual(len(response.masks.masks), len(frame.ids))


@launch_testing.post_shutdown_test()
class TestExit(unittest.TestCase):
    def test_exit_code_is_zero(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)
