"""sameo_node: amodal masks for every (image, detections) pair, a thin rclpy shell over sameo_core.

A lifecycle node (README, "ROS 2 node"). configure validates the parameters, sets torch's
threads, loads the model and runs a warm-up frame; activate creates, for every camera of the
`cameras` parameter, the subscriptions (`image` or `image/compressed`, `detections`; with depth
`depth` and `camera_info`) and the publishers (`amodal_masks`, `stats`, `debug_image`; with depth
`detections_3d` and `points`), under `<camera>/` for a named camera, and the one `segment`
service (srv/SegmentAmodal.srv); deactivate removes them and stops processing; cleanup releases
the model and its GPU memory.
With `managed: false` (the default) the node takes itself to active at start; with
`managed: true` (launch `managed:=true`) it waits for the transitions. /diagnostics is published
in every state.

What an active node serves (the cameras' topics, the service, the worker thread) is serving.py
and camera_ports.py. Each camera's amodal tracks (camera_tracks.py) live as long as the node, so
that their ids are never reused; deactivate ends every track, and so does switching `tracking`.
Messages are rclpy's generated classes.
Run: `ros2 run sameo_ros sameo_node --ros-args --params-file config/sameo.yaml`.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Header

from .camera_ports import CameraState
from .camera_tracks import CameraTracks
from .diagnostics import Counters, Health, HealthMonitor
from .messages import rclpy_types
from .params import (
    DESCRIPTIONS,
    DYNAMIC_TYPES,
    PARAMETERS,
    NodeConfig,
    checked_update,
    config_from_values,
    tracker_config,
)
from .pipeline import FramePipeline, Selection
from .serving import Serving

_THROTTLE_S = 5.0
DIAGNOSTICS_PERIOD_S = 1.0
EXIT_BAD_CONFIG, EXIT_WORKER_FAILED = 2, 1


class SameoNode(LifecycleNode):
    """The `sameo` node: parameters, lifecycle transitions, topics, service and diagnostics."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sameo", **kwargs)
        for name, default in PARAMETERS.items():
            descriptor = ParameterDescriptor(
                description=DESCRIPTIONS[name], dynamic_typing=name in DYNAMIC_TYPES
            )
            self.declare_parameter(name, default, descriptor)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.config: NodeConfig | None = None
        self.pipeline: FramePipeline | None = None
        self.configure_error: str | None = None
        self.worker_failure: BaseException | None = None
        self.finalized = False
        self.types = rclpy_types()
        self._state = "unconfigured"
        self._active: Serving | None = None
        self._warned_at: dict[str, float] = {}
        self._warn_lock = threading.Lock()
        self._health: dict[str, HealthMonitor] = {}  # per camera name
        self._tracks: dict[str, CameraTracks] = {}  # per camera name, for the node's lifetime
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self.publish_diagnostics)

    # Parameters.
    def _values(self) -> dict[str, Any]:
        return {name: self.get_parameter(name).value for name in PARAMETERS}

    def _check_parameters(self, parameters: list) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters}
        try:
            checked_update(self._values(), changes, configured=self.pipeline is not None)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list) -> None:
        if self.pipeline is None or self.config is None:
            return  # configure reads them
        was_tracking = self.config.tracking
        self.config = config_from_values(self._values())
        c = self.config
        self.pipeline.update(Selection(c.score_threshold, c.max_detections), c.mask_threshold)
        for camera, tracks in self._tracks.items():
            tracks.configure(tracker_config(c))
            if c.tracking != was_tracking:  # switched: the tracks start afresh
                ended = tracks.reset()
                if ended:
                    self.get_logger().info(f"{camera + ': ' if camera else ''}{ended} tracks "
                                           "ended (tracking switched)")  # fmt: skip
        self.get_logger().info("parameters changed: " + ", ".join(
            f"{p.name}={p.value!r}" for p in parameters))  # fmt: skip

    # Lifecycle transitions.
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate the parameters and load the model; FAILURE (stay unconfigured) if either is
        bad, with the reason in the log and on /diagnostics."""
        try:
            config = config_from_values(self._values())
            if config.torch_threads:  # 0: torch's default (README, "ROS 2 node")
                torch.set_num_threads(config.torch_threads)
            self.get_logger().info(
                f"loading SAMEO ({config.checkpoint or 'random weights'}, "
                f"{config.variant or 'variant from checkpoint'}) on {config.device}, "
                f"{torch.get_num_threads()} torch threads"
            )
            self.pipeline = FramePipeline.from_config(config)
            warmup_ms = self.pipeline.warmup()
        except Exception as error:  # parameters, a missing or corrupt checkpoint, the device
            self.configure_error = f"{type(error).__name__}: {error}"
            self.get_logger().error(f"configure failed: {self.configure_error}")
            return TransitionCallbackReturn.FAILURE
        self.config, self.configure_error, self._state = config, None, "inactive"
        if not self.pipeline.has_visible:
            self.get_logger().warning(
                "the model has no modal head: masks come without visible masks and occlusion "
                "order" + (", and depth gives no 3D" if config.depth else "")
            )
        self.get_logger().info(f"configured; first (warm-up) frame took {warmup_ms:.0f} ms")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the subscriptions, publishers and service; start the worker."""
        assert self.config is not None and self.pipeline is not None
        self._health = {}  # the cameras' counters start again from 0
        self._active = Serving(self, self.config, self.pipeline)
        self._state = "active"
        inputs = ", ".join(port.image_topic for port in self._active.ports)
        self.get_logger().info(f"ready: {inputs} + detections -> amodal_masks")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing (the frame in progress is finished) and remove the topics."""
        self._deactivate()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model and the GPU memory it held."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; the process then exits (code 0)."""
        self.stop()
        self.finalized = True
        self.get_logger().info("finalized")
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop()
        return TransitionCallbackReturn.SUCCESS  # back to unconfigured

    def _deactivate(self) -> None:
        if self._active is not None:
            active, self._active = self._active, None
            active.close()
            self._state = "inactive"

    def _release(self) -> None:
        if self.pipeline is not None:
            pipeline, self.pipeline = self.pipeline, None
            pipeline.release()
            self._state = "unconfigured"
            self.get_logger().info("model released")

    def stop(self) -> None:
        """Deactivate and clean up from whatever state the node is in."""
        self._deactivate()
        self._release()

    # Shared by the parts.
    def tracks_of(self, camera: str) -> CameraTracks:
        """Camera `camera`'s tracks with the current tracker parameters (created on first use,
        then kept: ids are never reused while the node runs)."""
        assert self.config is not None
        tracks = self._tracks.setdefault(camera, CameraTracks())
        tracks.configure(tracker_config(self.config))
        return tracks

    def warn(self, kind: str, text: str) -> None:
        """Log a warning, at most once per `_THROTTLE_S` for each kind of problem."""
        now = time.monotonic()
        with self._warn_lock:  # callbacks and the worker warn from their own threads
            if now - self._warned_at.get(kind, -_THROTTLE_S) < _THROTTLE_S:
                return
            self._warned_at[kind] = now
        self.get_logger().warning(text)

    def worker_ended(self, error: BaseException) -> None:
        """The worker thread failed outside its per-frame guard: report, then main() exits."""
        self.worker_failure = error
        self.get_logger().error(
            f"inference worker ended: {error!r}; exiting with code {EXIT_WORKER_FAILED} so that "
            "a supervisor can restart the node"
        )
        self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        """One DiagnosticStatus per camera (README, "ROS 2 node", Diagnostics)."""
        base = f"{self.get_fully_qualified_name()}: amodal segmentation"
        statuses = []
        for camera, health in self._health_snapshots():
            monitor = self._health.setdefault(camera, HealthMonitor())
            assessment = monitor.assess(health)
            statuses.append(DiagnosticStatus(
                level=bytes([assessment.level]), name=f"{base} ({camera})" if camera else base,
                message=assessment.message, hardware_id=self.config.device if self.config else "",
                values=[KeyValue(key=k, value=v) for k, v in assessment.values],
            ))  # fmt: skip
        header = Header(stamp=self.get_clock().now().to_msg())
        self._diagnostics_pub.publish(DiagnosticArray(header=header, status=statuses))

    def _camera_names(self) -> tuple[str, ...]:
        """The cameras of the configuration, or of the parameter before a valid configure."""
        if self.config is not None:
            return self.config.cameras
        cameras = tuple(self.get_parameter("cameras").value)
        return cameras if cameras and all(isinstance(c, str) for c in cameras) else ("",)

    def _health_snapshots(self) -> list[tuple[str, Health]]:
        active, pipeline, config = self._active, self.pipeline, self.config
        device = torch.device(config.device) if pipeline is not None and config else None
        on_cuda = device is not None and device.type == "cuda"
        node_level = dict(
            state=self._state, device=str(device or ""),
            model_bytes=pipeline.model_bytes() if pipeline else 0,
            cuda_allocated_bytes=torch.cuda.memory_allocated(device) if on_cuda else None,
            worker_error=None if self.worker_failure is None else repr(self.worker_failure),
            configure_error=self.configure_error,
        )  # fmt: skip
        if active is None:
            return [(c, Health(counters=Counters(), **node_level)) for c in self._camera_names()]
        snapshots = []
        for port in active.ports:
            state: CameraState = port.state
            stats = state.stats
            snapshots.append((port.name, Health(
                counters=Counters(
                    frames=state.frames, skipped=state.skipped,
                    detections_received=state.detections_received,
                    pairs_dropped=active.frames.dropped[port.index],
                    detections_unpaired=port.pairer.unmatched_total,
                ),
                fps=stats.fps, latency_ms_p50=stats.percentile(50),
                latency_ms_p99=stats.percentile(99),
                seconds_since_pair=state.seconds_since_pair(), **node_level,
            )))  # fmt: skip
        return snapshots


class _StopRequest:
    """SIGINT and SIGTERM ask the main loop to stop. The shutdown that follows (`ignore_more`)
    ignores further signals, down to the interpreter's exit, so that a second Ctrl-C or the
    launch system's signal during cleanup neither raises KeyboardInterrupt nor kills the
    process: the frame in progress is finished and the exit code is 0."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: str | None = None
        for sig in self.SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = self.signal or signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def ignore_more(self) -> None:
        for sig in self.SIGNALS:  # SIG_IGN also survives Python's finalization
            signal.signal(sig, signal.SIG_IGN)


def _bring_up(node: SameoNode) -> int | None:
    """Configure and activate an unmanaged node; the exit code if that failed."""
    if node.get_parameter("managed").value:
        node.get_logger().info("managed: waiting for the configure transition")
        return None
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        return EXIT_BAD_CONFIG
    if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
        return EXIT_WORKER_FAILED
    return None


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = _StopRequest()
    node = SameoNode()
    # One thread runs every callback (a multi-threaded executor cost more per frame,
    # BENCHMARKS.md "ROS node"); the model runs in the worker thread, or in a service call.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    code = _bring_up(node)
    while code is None and not stop.requested and not node.finalized:
        if node.worker_failure is not None:
            code = EXIT_WORKER_FAILED
            break
        try:
            executor.spin_once(timeout_sec=0.1)
        except Exception as error:  # an rclpy error in a callback must not end the node
            node.warn(f"executor {type(error).__name__}", f"callback failed: {error!r}")
    stop.ignore_more()
    if stop.requested:
        node.get_logger().info(f"{stop.signal}: shutting down")
    executor.shutdown()  # callbacks in progress finish first
    node.stop()
    node.destroy_node()
    rclpy.try_shutdown()
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
