"""What an active sameo_node serves: the input subscriptions, the publishers, the `segment`
service, the pairing state and the inference worker (README, "ROS 2 node").

`Serving` is created by the node's activate transition and closed by deactivate. Callbacks only
pair the messages by stamp and hand the newest pair over; the worker thread (frame_worker.py)
runs each frame through the pipeline and publishes, every step guarded so that a bad frame is
logged and dropped. The service runs the same pipeline (and shares its model lock).

With `depth: true` the depth image and CameraInfo are kept by stamp (pairing.StampBuffer); the
worker takes the ones of its frame's stamp (waiting up to `depth_wait` for them), and publishes
a Detection3DArray (and with `point_cloud: true` a PointCloud2) after the AmodalMaskArray. Bad or
missing depth costs the frame its 3D only, with a throttled warning naming the reason.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray

from sameo_ros.msg import AmodalMaskArray, FrameStats
from sameo_ros.srv import SegmentAmodal

from .conversions import ConversionError, stamp_ns
from .frame_worker import FrameWorker
from .latency_stats import FrameRateStats
from .latest import LatestSlot
from .messages import amodal_mask_array, detection_3d_array, point_cloud, rgb_image
from .overlay import draw_overlay
from .pairing import Pair, PairingResult, StampBuffer, StampPairer
from .params import NodeConfig
from .pipeline import FrameInputs, FrameResult

if TYPE_CHECKING:
    from .node import SameoNode

RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}
WORKER_STOP_TIMEOUT_S = 30.0  # the frame in progress is finished, not abandoned


class Serving:
    """The subscriptions, publishers, service, pairing state and worker of an active node."""

    def __init__(self, node: SameoNode, config: NodeConfig) -> None:
        self.node, self.config = node, config
        self.pairer: StampPairer[Any, Any] = StampPairer(int(config.sync_slop * 1e9))
        self.slot: LatestSlot[tuple[Pair, float]] = LatestSlot()
        self.stats = FrameRateStats(config.stats_window)
        self.activated_at = time.monotonic()
        self.last_pair_at: float | None = None
        qos = QoSProfile(depth=config.qos_depth, reliability=RELIABILITY[config.qos_reliability])
        if config.image_transport == "compressed":  # image_transport's naming: <image>/compressed
            self.image_topic = node.resolve_topic_name("image") + "/compressed"
            image_type = CompressedImage
        else:
            self.image_topic, image_type = node.resolve_topic_name("image"), Image
        self.subscriptions = [
            node.create_subscription(image_type, self.image_topic, self._on_image, qos),
            node.create_subscription(Detection2DArray, "detections", self._on_detections, qos),
        ]
        slop_ns = int(config.sync_slop * 1e9)
        self.depth: StampBuffer[Any] = StampBuffer(slop_ns)
        self.camera_info: StampBuffer[Any] = StampBuffer(slop_ns)
        self.detections_3d_pub = self.points_pub = None
        if config.depth:
            self.subscriptions += [
                node.create_subscription(Image, "depth", self._on_depth, qos),
                node.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos),
            ]
            self.detections_3d_pub = node.create_publisher(Detection3DArray, "detections_3d", 10)
            if config.point_cloud:
                self.points_pub = node.create_publisher(PointCloud2, "points", 2)
        self.masks_pub = node.create_publisher(AmodalMaskArray, "amodal_masks", 10)
        self.stats_pub = node.create_publisher(FrameStats, "stats", 10)
        self.debug_pub = node.create_publisher(Image, "debug_image", 1)
        self.service = node.create_service(SegmentAmodal, "segment", self._on_segment)
        self.stats_timer = node.create_timer(config.stats_period, self._log_stats)
        self.worker = FrameWorker(self.slot, self._serve, self._on_frame_error, node.worker_ended)
        self.worker.start()

    def close(self) -> None:
        node = self.node
        if self.worker.busy:
            node.get_logger().info("stopping: finishing the frame in progress")
        if not self.worker.stop(WORKER_STOP_TIMEOUT_S):
            node.get_logger().warning(f"worker still busy after {WORKER_STOP_TIMEOUT_S:g} s")
        for subscription in self.subscriptions:
            node.destroy_subscription(subscription)
        for publisher in (self.masks_pub, self.stats_pub, self.debug_pub, self.detections_3d_pub,
                          self.points_pub):  # fmt: skip
            if publisher is not None:
                node.destroy_publisher(publisher)
        node.destroy_service(self.service)
        node.destroy_timer(self.stats_timer)

    def seconds_since_pair(self) -> float:
        return time.monotonic() - (self.last_pair_at or self.activated_at)

    # Callbacks: pair the messages by stamp and hand over, nothing else.
    def _on_image(self, msg: Any) -> None:
        self._hand_over(self.pairer.add_image(stamp_ns(msg.header.stamp), msg))

    def _on_detections(self, msg: Detection2DArray) -> None:
        self.node.count("detections_received")
        self._hand_over(self.pairer.add_detections(stamp_ns(msg.header.stamp), msg))

    def _on_depth(self, msg: Image) -> None:
        self.depth.add(stamp_ns(msg.header.stamp), msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info.add(stamp_ns(msg.header.stamp), msg)

    def _hand_over(self, result: PairingResult) -> None:
        for stamp in result.unmatched:
            self.node.warn(
                "unpaired",
                f"detections at {stamp * 1e-9:.6f} s found no image within sync_slop "
                f"{self.config.sync_slop} s ({self.pairer.unmatched_total} so far)",
            )
        for pair in result.pairs:
            self.last_pair_at = time.monotonic()
            self.slot.put((pair, self.last_pair_at))

    # Worker thread: every step of a frame is guarded, a failing frame is logged and dropped.
    def _serve(self, item: tuple[Pair, float]) -> None:
        pair, paired_at = item
        started = time.monotonic()
        node, at = self.node, f"frame at {pair.image_stamp * 1e-9:.6f} s"
        header = pair.image.header
        step = "model"
        try:
            pipeline = node.pipeline
            assert pipeline is not None, "no model while active"
            depth, camera_info = self._depth_inputs(pair.image_stamp)
            result = pipeline.process(
                FrameInputs(pair.image, pair.detections, depth=depth, camera_info=camera_info)
            )
            processed = time.monotonic()
            step = "building the AmodalMaskArray"
            masks = amodal_mask_array(node.types, header, result.records)
            step = "publishing"
            built = time.monotonic()
            self.masks_pub.publish(masks)
        except ConversionError as error:
            node.count("skipped")
            node.warn(error.kind, f"skipping {at}: {error}")
            return
        except Exception as error:
            node.count("skipped")
            node.warn(f"{step} {type(error).__name__}", f"skipping {at}: {step} failed: {error!r}")
            return
        published = time.monotonic()
        self._publish_3d(header, result, at)  # after the 2D answer, and never at its cost
        node.count("frames")
        self.stats.add((published - paired_at) * 1000.0, published)
        if result.rejected:
            node.warn("rejected", f"{at}: ignored detections (id: reason) {result.rejected}")
        self._warn_depth(result, at)
        debug_ms = self._publish_debug(header, result, at)
        times = (paired_at, started, processed, built, published)
        self._publish_stats(header, result, times, debug_ms, at)

    def _depth_inputs(self, stamp: int) -> tuple[Any, Any]:
        """The depth image and CameraInfo of `stamp`, waiting up to depth_wait in all for them
        (None for each one that did not come within sync_slop)."""
        if not self.config.depth:
            return None, None
        deadline = time.monotonic() + self.config.depth_wait
        depth = self.depth.match(stamp, self.config.depth_wait)
        camera_info = self.camera_info.match(stamp, max(deadline - time.monotonic(), 0.0))
        return depth, camera_info

    def _publish_3d(self, header: Any, result: FrameResult, at: str) -> None:
        """The frame's Detection3DArray (and PointCloud2), with depth enabled."""
        if self.detections_3d_pub is None:
            return
        types = self.node.types
        try:
            self.detections_3d_pub.publish(detection_3d_array(types, header, result.records))
            if self.points_pub is not None:
                self.points_pub.publish(point_cloud(types, header, result.records))
        except Exception as error:  # the masks are out already: note it and go on
            self.node.warn(f"3d {type(error).__name__}", f"{at}: 3D output failed: {error!r}")

    def _warn_depth(self, result: FrameResult, at: str) -> None:
        """Why a frame or some of its objects got no 3D, throttled per reason."""
        if result.depth_error is not None:
            error = result.depth_error
            self.node.warn(f"depth: {error.reason}", f"{at}: no 3D: {error}")
            return
        missing: dict[str, list[str]] = {}
        for record in result.records:
            if record.no_3d_reason:
                missing.setdefault(record.no_3d_reason, []).append(record.id)
        for reason, ids in missing.items():
            self.node.warn(f"depth: {reason}", f"{at}: no 3D for {', '.join(ids)}: {reason}")

    def _on_frame_error(self, item: tuple[Pair, float], error: Exception) -> None:
        self.node.count("skipped")
        self.node.warn(f"frame {type(error).__name__}", f"skipping a frame: {error!r}")

    def _publish_debug(self, header: Any, result: FrameResult, at: str) -> float:
        """Draw and publish the overlay while someone subscribes; ms spent (0 otherwise)."""
        if not self.node.config.debug_image or self.debug_pub.get_subscription_count() == 0:
            return 0.0
        started = time.monotonic()
        try:
            overlay = draw_overlay(result.image, result.records)
            self.debug_pub.publish(rgb_image(self.node.types, header, overlay))
        except Exception as error:  # the masks are out already: note it and go on
            self.node.warn(f"debug {type(error).__name__}", f"{at}: debug image failed: {error!r}")
        return (time.monotonic() - started) * 1000.0

    def _publish_stats(
        self, header: Any, result: FrameResult, times: tuple[float, ...], debug_ms: float, at: str
    ) -> None:
        """FrameStats of a published frame; `times`: paired, taken by the worker, processed,
        AmodalMaskArray built, published (time.monotonic())."""
        paired_at, started, processed, built, published = times
        ms = result.timings_ms
        try:
            self.stats_pub.publish(FrameStats(
                header=header, queue_ms=(started - paired_at) * 1000.0, convert_ms=ms["convert"],
                model_ms=ms["model"], lifting_ms=ms["lifting"],
                build_ms=ms["order"] + (built - processed) * 1000.0,
                publish_ms=(published - built) * 1000.0, debug_ms=debug_ms,
                total_ms=(published - paired_at) * 1000.0, fps=self.stats.fps,
                total_ms_p50=self.stats.percentile(50), total_ms_p99=self.stats.percentile(99),
                frames_processed=self.stats.frames, pairs_dropped=self.slot.dropped,
                detections_unpaired=self.pairer.unmatched_total, masks=len(result.records),
            ))  # fmt: skip
        except Exception as error:
            self.node.warn(f"stats {type(error).__name__}", f"{at}: stats failed: {error!r}")

    # Service: same pipeline (and model lock) as the topics.
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
        if self.stats.frames:
            self.node.get_logger().info(
                f"{self.stats.summary()}, {self.slot.dropped} pairs dropped, "
                f"{self.pairer.unmatched_total} detections unpaired"
            )
