"""What an active sameo_node serves: one CameraPort per camera (camera_ports.py), the `segment`
service and the inference worker (README, "ROS 2 node").

`Serving` is created by the node's activate transition and closed by deactivate. Callbacks only
pair each camera's messages by stamp and put the newest pair in that camera's slot
(latest.NewestFrames); the worker thread (frame_worker.py) takes the cameras' frames in turn
(round-robin; with a batched encoder every waiting camera's frame at once), runs them through
the one pipeline and publishes each frame on its camera's topics, every step guarded so that a
bad frame is logged and dropped and costs no other camera anything. The service runs the same
pipeline (and shares its model lock).

With `depth: true` the depth image and CameraInfo are kept by stamp per camera
(pairing.StampBuffer); the worker takes the ones of its frame's stamp (waiting up to
`depth_wait` for them), and publishes a Detection3DArray (and with `point_cloud: true` a
PointCloud2) after the AmodalMaskArray. Bad or missing depth costs the frame its 3D only, with a
throttled warning naming the reason.

With `tracking: true` each camera's frames go through its tracks (CameraState.tracks, in the
pipeline, while the frame's embedding is held); the tracker's warnings (stamps going backwards
or jumping reset the camera's tracks) are logged throttled per camera and kind, its time goes
into FrameStats.tracker_ms, and closing (deactivate) ends every track. The `segment` service
answers each request alone (track_id 0).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from rclpy.qos import QoSProfile, ReliabilityPolicy

from sameo_ros.msg import AmodalMaskArray, FrameStats
from sameo_ros.srv import SegmentAmodal

from .camera_ports import CameraPort
from .conversions import ConversionError
from .frame_worker import Batch, FrameWorker
from .latest import NewestFrames
from .messages import amodal_mask_array, detection_3d_array, point_cloud, rgb_image
from .overlay import draw_overlay
from .pairing import Pair
from .params import NodeConfig
from .pipeline import FrameInputs, FramePipeline, FrameResult

if TYPE_CHECKING:
    from .node import SameoNode

RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}
WORKER_STOP_TIMEOUT_S = 30.0  # the frame in progress is finished, not abandoned
Taken = tuple[Pair, float]  # a pair and the time.monotonic() it was complete


class Serving:
    """The cameras, service and worker of an active node."""

    def __init__(self, node: SameoNode, config: NodeConfig, pipeline: FramePipeline) -> None:
        self.node, self.config = node, config
        self.frames: NewestFrames[Taken] = NewestFrames(len(config.cameras))
        qos = QoSProfile(depth=config.qos_depth, reliability=RELIABILITY[config.qos_reliability])
        self.ports = [
            CameraPort(node, config, k, qos, self.frames.put) for k in range(len(config.cameras))
        ]
        self.service = node.create_service(SegmentAmodal, "segment", self._on_segment)
        self.stats_timer = node.create_timer(config.stats_period, self._log_stats)
        self.worker: FrameWorker[Taken] = FrameWorker(
            self.frames, self._serve, self._on_frame_error, node.worker_ended,
            batch=pipeline.batched_encoder and len(self.ports) > 1,
        )  # fmt: skip
        self.worker.start()

    def close(self) -> None:
        node = self.node
        if self.worker.busy:
            node.get_logger().info("stopping: finishing the frame in progress")
        if not self.worker.stop(WORKER_STOP_TIMEOUT_S):
            node.get_logger().warning(f"worker still busy after {WORKER_STOP_TIMEOUT_S:g} s")
        for port in self.ports:
            port.close()
            ended = port.state.tracks.reset()  # ids keep counting up: none is reused
            if ended:
                node.get_logger().info(f"{port.name + ': ' if port.name else ''}{ended} tracks "
                                       "ended (deactivate)")  # fmt: skip
        node.destroy_service(self.service)
        node.destroy_timer(self.stats_timer)

    # Worker thread: every step of a frame is guarded, a failing frame is logged and dropped.
    def _serve(self, batch: Batch[Taken]) -> None:
        """The frames the worker took (one per camera), through the model together, each then
        published on its camera's topics."""
        started = time.monotonic()
        pipeline = self.node.pipeline
        if pipeline is None:
            raise RuntimeError("no model while active")
        deadline = started + self.config.depth_wait  # one depth wait for the frames taken
        ports = [self.ports[k] for k, _ in batch]
        tracking = self.node.config is not None and self.node.config.tracking  # run time
        inputs = []
        for port, (_, (pair, _)) in zip(ports, batch):
            depth, camera_info = port.depth_inputs(pair.image_stamp, deadline)
            inputs.append(FrameInputs(pair.image, pair.detections, depth=depth,
                                      camera_info=camera_info,
                                      tracks=port.state.tracks if tracking else None))  # fmt: skip
        results = pipeline.process_batch(inputs)
        for port, (_, (pair, paired_at)), result in zip(ports, batch, results):
            self._publish_frame(port, pair, (paired_at, started), result)

    def _publish_frame(
        self, port: CameraPort, pair: Pair, times: tuple[float, float],
        result: FrameResult | Exception,
    ) -> None:  # fmt: skip
        """One frame's outputs on its camera's topics: the AmodalMaskArray, then the 3D, the
        debug overlay and the FrameStats (the one place a frame's result becomes messages).
        `times`: paired, taken by the worker (time.monotonic())."""
        node, state = self.node, port.state
        at = state.frame_label(pair.image_stamp)
        header = pair.image.header
        step = "model"
        try:
            if isinstance(result, Exception):
                raise result
            step = "building the AmodalMaskArray"
            built_from = time.monotonic()
            masks = amodal_mask_array(node.types, header, result.records)
            step = "publishing"
            built = time.monotonic()
            port.masks_pub.publish(masks)
        except ConversionError as error:
            state.count("skipped")
            node.warn(f"{port.name} {error.kind}", f"skipping {at}: {error}")
            return
        except Exception as error:
            state.count("skipped")
            node.warn(f"{port.name} {step} {type(error).__name__}",
                      f"skipping {at}: {step} failed: {error!r}")  # fmt: skip
            return
        published = time.monotonic()
        paired_at = times[0]
        self._publish_3d(port, header, result, at)  # after the 2D answer, never at its cost
        state.count("frames")
        state.stats.add((published - paired_at) * 1000.0, published)
        if not state.first_frame_logged:
            state.first_frame_logged = True
            node.get_logger().info(
                f"first {at}: answered in {(published - paired_at) * 1000.0:.1f} ms "
                f"(model {result.timings_ms['model']:.1f} ms)"
            )
        if result.rejected:
            node.warn(f"{port.name} rejected",
                      f"{at}: ignored detections (id: reason) {result.rejected}")  # fmt: skip
        for warning in result.tracking.warnings if result.tracking is not None else ():
            kind = re.sub(r"[-+\d.]+", "#", warning)  # throttled per kind, not per value
            node.warn(f"{port.name} tracker {kind}", f"{at}: tracker: {warning}")
        self._warn_depth(port, result, at)
        debug_ms = self._publish_debug(port, header, result, at)
        build_ms = (built - built_from) * 1000.0
        self._publish_stats(port, header, result, (*times, build_ms, built, published),
                            debug_ms, at)  # fmt: skip

    def _publish_3d(self, port: CameraPort, header: Any, result: FrameResult, at: str) -> None:
        """The frame's Detection3DArray (and PointCloud2), with depth enabled."""
        if port.detections_3d_pub is None:
            return
        types = self.node.types
        try:
            port.detections_3d_pub.publish(detection_3d_array(types, header, result.records))
            if port.points_pub is not None:
                port.points_pub.publish(point_cloud(types, header, result.records))
        except Exception as error:  # the masks are out already: note it and go on
            self.node.warn(f"{port.name} 3d {type(error).__name__}",
                           f"{at}: 3D output failed: {error!r}")  # fmt: skip

    def _warn_depth(self, port: CameraPort, result: FrameResult, at: str) -> None:
        """Why a frame or some of its objects got no 3D, throttled per camera and reason."""
        if result.depth_error is not None:
            error = result.depth_error
            self.node.warn(f"{port.name} depth: {error.reason}", f"{at}: no 3D: {error}")
            return
        missing: dict[str, list[str]] = {}
        for record in result.records:
            if record.no_3d_reason:
                missing.setdefault(record.no_3d_reason, []).append(record.id)
        for reason, ids in missing.items():
            self.node.warn(f"{port.name} depth: {reason}",
                           f"{at}: no 3D for {', '.join(ids)}: {reason}")  # fmt: skip

    def _on_frame_error(self, batch: Batch[Taken], error: Exception) -> None:
        """A failure outside the per-frame guards: every frame taken with it is dropped."""
        for k, _ in batch:
            self.ports[k].state.count("skipped")
        self.node.warn(f"frame {type(error).__name__}", f"skipping frames: {error!r}")

    def _publish_debug(self, port: CameraPort, header: Any, result: FrameResult, at: str) -> float:
        """Draw and publish the overlay while someone subscribes; ms spent (0 otherwise)."""
        if not self.node.config.debug_image or port.debug_pub.get_subscription_count() == 0:
            return 0.0
        started = time.monotonic()
        try:
            overlay = draw_overlay(result.host_image(), result.records)
            port.debug_pub.publish(rgb_image(self.node.types, header, overlay))
        except Exception as error:  # the masks are out already: note it and go on
            self.node.warn(f"{port.name} debug {type(error).__name__}",
                           f"{at}: debug image failed: {error!r}")  # fmt: skip
        return (time.monotonic() - started) * 1000.0

    def _publish_stats(
        self, port: CameraPort, header: Any, result: FrameResult, times: tuple[float, ...],
        debug_ms: float, at: str,
    ) -> None:  # fmt: skip
        """FrameStats of a published frame on its camera's `stats`; `times`: paired, taken by
        the worker, ms building the AmodalMaskArray, built, published."""
        paired_at, started, build_ms, built, published = times
        ms, state = result.timings_ms, port.state
        try:
            port.stats_pub.publish(FrameStats(
                header=header, queue_ms=(started - paired_at) * 1000.0, convert_ms=ms["convert"],
                model_ms=ms["model"], encoder_ms=ms["encoder"], decoder_ms=ms["decoder"],
                postprocess_ms=ms["postprocess"], lifting_ms=ms["lifting"],
                build_ms=ms["order"] + build_ms, tracker_ms=ms["tracker"],
                publish_ms=(published - built) * 1000.0,
                debug_ms=debug_ms, total_ms=(published - paired_at) * 1000.0,
                fps=state.stats.fps, total_ms_p50=state.stats.percentile(50),
                total_ms_p99=state.stats.percentile(99), frames_processed=state.stats.frames,
                pairs_dropped=self.frames.dropped[port.index],
                detections_unpaired=port.pairer.unmatched_total, masks=len(result.records),
            ))  # fmt: skip
        except Exception as error:
            self.node.warn(f"{port.name} stats {type(error).__name__}",
                           f"{at}: stats failed: {error!r}")  # fmt: skip

    # Service: same pipeline (and model lock) as the topics; each request alone, no tracks.
    def _on_segment(self, request: Any, response: Any) -> Any:
        node = self.node
        try:
            pipeline = node.pipeline
            assert pipeline is not None, "no model while active"
            result = pipeline.process(  # 2D only: a request carries no depth
                FrameInputs(request.image, request.detections, request.points), lift=False
            )
            response.masks = amodal_mask_array(node.types, request.image.header, result.records)
            response.rejected = [f"{i}: {why}" for i, why in result.rejected.items()]
        except Exception as error:  # a bad request gets an answer, never a dead service
            node.warn(f"segment {type(error).__name__}", f"segment request refused: {error}")
            response.masks = AmodalMaskArray(header=request.image.header)
            response.rejected = []
            response.error = f"{type(error).__name__}: {error}"
        return response

    def _log_stats(self) -> None:
        for port in self.ports:
            state = port.state
            if state.stats.frames:
                self.node.get_logger().info(
                    f"{port.name + ': ' if port.name else ''}{state.stats.summary()}, "
                    f"{self.frames.dropped[port.index]} pairs dropped, "
                    f"{port.pairer.unmatched_total} detections unpaired"
                )
