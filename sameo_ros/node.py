"""sameo_node: amodal masks for every (image, detections) pair, a thin rclpy shell over sameo_core.

Subscribes `image` (sensor_msgs/Image) and `detections` (vision_msgs/Detection2DArray), pairs
them by stamp, and publishes `amodal_masks` (sameo_ros/AmodalMaskArray, header = image header),
`stats` (sameo_ros/FrameStats) and, only while someone subscribes, `debug_image`. Callbacks only
read the stamp and pair the still serialized messages; one worker thread decodes and runs the
model on the newest pair, so a slow model drops frames instead of queueing them. Messages are
(de)serialized by frame_cdr.py and wire.py, not by rclpy (the reasons are there).
Run: `ros2 run sameo_ros sameo_node --ros-args --params-file config/sameo.yaml`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import rclpy
import torch
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from sameo_ros.msg import AmodalMaskArray, FrameStats

from .allocator import keep_large_buffers
from .cdr import header_stamp_ns
from .conversions import ConversionError
from .frame_cdr import decode_detections, decode_image, encode_amodal_mask_array
from .latest import LatestSlot
from .messages import rgb_image
from .overlay import draw_overlay
from .pairing import Pair, PairingResult, StampPairer
from .params import DESCRIPTIONS, PARAMETERS, NodeConfig, config_from_values
from .pipeline import FramePipeline, FrameResult, build_predictor
from .stats import FrameRateStats
from .wire import WireCodec

_RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}
_THROTTLE_S = 5.0


class SameoNode(Node):
    """The `sameo` node: parameters, topics, the pairing callbacks and the inference worker."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sameo", **kwargs)
        self.config = self._declare_parameters()
        self.get_logger().info(
            f"loading SAMEO ({self.config.checkpoint or 'random weights'}, "
            f"{self.config.variant or 'variant from checkpoint'}) on "
            f"{self.config.device}"
        )
        self.pipeline = FramePipeline(build_predictor(self.config), self.config)
        self.codec = WireCodec.from_installed()
        self.pairer: StampPairer[bytes, bytes] = StampPairer(
            int(self.config.sync_slop * 1e9)
        )
        self.slot: LatestSlot[tuple[Pair, float]] = LatestSlot()
        self.stats = FrameRateStats(self.config.stats_window)
        self._warned_at: dict[str, float] = {}
        self._create_topics()
        self.create_timer(self.config.stats_period, self._log_stats)
        self.worker = threading.Thread(target=self._work, name="sameo_worker", daemon=True)
        self.worker.start()
        self.get_logger().info("ready")

    def _declare_parameters(self) -> NodeConfig:
        values = {
            name: self.declare_parameter(
                name, default, ParameterDescriptor(description=DESCRIPTIONS[name])
            ).value
            for name, default in PARAMETERS.items()
        }
        return config_from_values(values)

    def _create_topics(self) -> None:
        c = self.config
        qos = QoSProfile(depth=c.qos_depth, reliability=_RELIABILITY[c.qos_reliability])
        self.create_subscription(Image, c.image_topic, self._on_image, qos, raw=True)
        self.create_subscription(
            Detection2DArray, c.detections_topic, self._on_detections, qos, raw=True
        )
        self.masks_pub = self.create_publisher(AmodalMaskArray, c.amodal_masks_topic, 10)
        self.stats_pub = self.create_publisher(FrameStats, c.stats_topic, 10)
        self.debug_pub = (
            self.create_publisher(Image, c.debug_image_topic, 1) if c.debug_image else None
        )

    # Callbacks: pair the serialized messages by stamp and hand over, nothing else.
    def _on_image(self, raw: bytes) -> None:
        with self._reading_stamp("image"):
            self._hand_over(self.pairer.add_image(header_stamp_ns(raw), raw))

    def _on_detections(self, raw: bytes) -> None:
        with self._reading_stamp("detections"):
            self._hand_over(self.pairer.add_detections(header_stamp_ns(raw), raw))

    @contextlib.contextmanager
    def _reading_stamp(self, what: str) -> Iterator[None]:
        try:
            yield
        except ConversionError as error:
            self._warn(f"{what} {error.kind}", f"ignoring a {what} message: {error}")

    def _hand_over(self, result: PairingResult) -> None:
        for stamp in result.unmatched:
            self._warn(
                "unpaired",
                f"detections at {stamp * 1e-9:.6f} s found no image within "
                f"sync_slop {self.config.sync_slop} s ({self.pairer.unmatched_total} so far)",
            )
        for pair in result.pairs:
            self.slot.put((pair, time.monotonic()))

    def _warn(self, kind: str, text: str) -> None:
        """Log a warning, at most once per `_THROTTLE_S` for each kind of problem."""
        now = time.monotonic()
        if now - self._warned_at.get(kind, -_THROTTLE_S) >= _THROTTLE_S:
            self._warned_at[kind] = now
            self.get_logger().warning(text)

    # Worker thread.
    def _work(self) -> None:
        while not self.slot.closed and rclpy.ok(context=self.context):
            item = self.slot.take(timeout=0.5)
            if item is not None:
                self._process_safely(*item)

    def _process_safely(self, pair: Pair, paired_at: float) -> None:
        started = time.monotonic()
        at = f"frame at {pair.image_stamp * 1e-9:.6f} s"
        try:
            image = decode_image(pair.image, self.codec.types)
            prompts = decode_detections(pair.detections)
            decode_ms = (time.monotonic() - started) * 1000.0
            result = self.pipeline.process(image, prompts)
        except ConversionError as error:
            self._warn(error.kind, f"skipping {at}: {error}")
            return
        except Exception as error:  # a bad input must never end the node
            self._warn(type(error).__name__, f"skipping {at}: {error!r}")
            return
        if result.rejected:
            self._warn("rejected", f"{at}: ignored detections (id: reason) {result.rejected}")
        result.timings_ms["convert"] += decode_ms
        self._publish(image.header, result, paired_at, started)

    def _publish(self, image_header: Any, result: FrameResult, paired_at: float,
                 started: float) -> None:  # fmt: skip
        t0 = time.monotonic()
        masks = encode_amodal_mask_array(image_header, result)
        t1 = time.monotonic()
        self.masks_pub.publish(masks)
        t2 = time.monotonic()
        types, encode = self.codec.types, self.codec.encode
        header = image_header  # decode_image built it with these types
        if self.debug_pub is not None and self.debug_pub.get_subscription_count() > 0:
            overlay = draw_overlay(result.image, result.records)
            self.debug_pub.publish(encode(rgb_image(types, header, overlay)))
        t3 = time.monotonic()
        self.stats.add((t2 - paired_at) * 1000.0, t2)
        ms = result.timings_ms
        self.stats_pub.publish(encode(types.frame_stats(
            header=header, queue_ms=(started - paired_at) * 1000.0, convert_ms=ms["convert"],
            model_ms=ms["model"], build_ms=ms["visibility"] + (t1 - t0) * 1000.0,
            publish_ms=(t2 - t1) * 1000.0, debug_ms=(t3 - t2) * 1000.0,
            total_ms=(t2 - paired_at) * 1000.0, fps=self.stats.fps,
            total_ms_p50=self.stats.percentile(50), total_ms_p99=self.stats.percentile(99),
            frames_processed=self.stats.frames, pairs_dropped=self.slot.dropped,
            detections_unpaired=self.pairer.unmatched_total, masks=len(result.records),
        )))  # fmt: skip

    def _log_stats(self) -> None:
        if self.stats.frames:
            self.get_logger().info(
                f"{self.stats.summary()}, {self.slot.dropped} pairs dropped, "
                f"{self.pairer.unmatched_total} detections unpaired"
            )

    def close(self) -> None:
        """Stop the worker and release the model (and the GPU memory it held)."""
        self.slot.close()
        self.worker.join(timeout=30.0)
        device = self.pipeline.predictor.device
        del self.pipeline
        if device.type == "cuda":
            torch.cuda.empty_cache()


def main(args: list[str] | None = None) -> None:
    keep_large_buffers()  # before rclpy and Fast DDS allocate their message buffers
    # The worker waits for the executor thread to drop the GIL after a callback; by default that
    # takes until the executor blocks again or 5 ms pass. 0.1 ms cut the hand-over (FrameStats
    # queue_ms) from 0.34 to 0.25 ms in sameo_ros.benchmark on this project's 2-core CPU.
    sys.setswitchinterval(1e-4)
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = SameoNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as error:  # invalid parameters or checkpoint
        print(f"sameo_node: {error}", file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
