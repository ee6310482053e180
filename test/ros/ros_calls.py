"""Small rclpy helpers for the node tests: service calls, parameters, lifecycle, diagnostics.

They use a node that is already spinning in a background thread (SameoClient.node), and wait
with generous timeouts (the machine is shared).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .conftest import TIMEOUT


def call(node: Any, srv_type: Any, name: str, request: Any = None, timeout: float = TIMEOUT):
    """Call service `name` of type `srv_type` and return its response (fails on timeout)."""
    client = node.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout), f"no service {name}"
        future = client.call_async(request if request is not None else srv_type.Request())
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout), f"{name} did not answer within {timeout} s"
        return future.result()
    finally:
        node.destroy_client(client)


def set_parameters(node: Any, target: str, **values: Any) -> list:
    """Set parameters of node `target` (its full name) one at a time; the SetParametersResults."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(
        parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
    )
    return list(call(node, SetParameters, f"{target}/set_parameters", request).results)


def get_parameters(node: Any, target: str, *names: str) -> dict[str, Any]:
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    request = GetParameters.Request(names=list(names))
    values = call(node, GetParameters, f"{target}/get_parameters", request).values
    return {n: parameter_value_to_python(v) for n, v in zip(names, values)}


def detections(msg: Any) -> list:
    """The masks of an AmodalMaskArray that answer its detections. They come first; with tracking
    the tracks without a detection this frame follow (HIDDEN, RECOVERED: empty id, track_id > 0;
    msg/AmodalMaskArray.msg), which this checks."""
    masks = list(msg.masks)
    count = next((k for k, m in enumerate(masks) if not m.id), len(masks))
    tracks = masks[count:]
    assert all(not m.id and m.track_id > 0 and m.track_state in (2, 3) for m in tracks), [
        (m.id, m.track_id, m.track_state) for m in tracks]  # fmt: skip
    return masks[:count]


def lifecycle_state(node: Any, target: str) -> str:
    from lifecycle_msgs.srv import GetState

    return call(node, GetState, f"{target}/get_state").current_state.label


def change_state(node: Any, target: str, transition: str) -> bool:
    """Trigger `transition` (configure, activate, ...) of lifecycle node `target`."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    transition_id = getattr(Transition, f"TRANSITION_{transition.upper()}")
    request = ChangeState.Request(transition=Transition(id=transition_id))
    return call(node, ChangeState, f"{target}/change_state", request, timeout=3 * TIMEOUT).success


class DiagnosticsListener:
    """Collects /diagnostics statuses of one node (by name prefix) as they come."""

    def __init__(self, node: Any, name_prefix: str) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self.prefix = name_prefix
        self.statuses: list = []
        self._cond = threading.Condition()
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 10)

    def _on(self, msg: Any) -> None:
        with self._cond:
            self.statuses += [s for s in msg.status if s.name.startswith(self.prefix)]
            self._cond.notify_all()

    @property
    def count(self) -> int:
        with self._cond:
            return len(self.statuses)

    def wait_for(self, predicate, timeout: float = TIMEOUT, after: int = 0) -> Any | None:
        """The first status received (after the first `after` ones) for which predicate(status)
        holds, waiting up to `timeout` s for it; None if none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for status in self.statuses[after:]:
                    if predicate(status):
                        return status
                if time.monotonic() >= deadline:
                    return None
                self._cond.wait(0.2)


def values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def level(status: Any) -> int:
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)
