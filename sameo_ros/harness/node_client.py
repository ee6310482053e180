"""A camera-and-detector stand-in that talks to a running sameo_node over DDS.

Publishes `image` and `detections`, collects `amodal_masks`, `stats` and (optionally) `debug_image`
with their arrival times. Used by the demo, the benchmark and the node tests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from sameo_ros.msg import AmodalMaskArray, FrameStats

from .conversions import stamp_ns
from .frame_messages import detections_message, header_at, image_message
from .scene import Frame
from .wire import AMODAL_MASKS, FRAME_STATS, IMAGE, WireCodec


@dataclass
class Received:
    """Messages (rosbags dataclasses) by header stamp (ns); masks with the time.monotonic() at
    which their bytes were taken (before decoding, which `masks_decode_ms` times)."""

    masks: dict[int, tuple[Any, float]] = field(default_factory=dict)
    masks_decode_ms: dict[int, float] = field(default_factory=dict)
    stats: dict[int, Any] = field(default_factory=dict)
    debug: dict[int, Any] = field(default_factory=dict)


class SameoClient:
    """Publishes frames to sameo_node and gathers its answers (spins in a background thread).

    Like the node it sends and receives CDR bytes through a WireCodec (see wire.py), so that the
    benchmark times the node and DDS, not rclpy's Python message conversion in the client.
    """

    def __init__(
        self,
        image_reliability: str = "reliable",
        debug_image: bool = False,
        name: str = "sameo_client",
        namespace: str = "",
    ) -> None:
        self.node = Node(name, namespace=namespace)
        self.codec = WireCodec.from_installed()
        reliability = {
            "reliable": ReliabilityPolicy.RELIABLE,
            "best_effort": ReliabilityPolicy.BEST_EFFORT,
        }[image_reliability]
        self.image_pub = self.node.create_publisher(
            Image, "image", QoSProfile(depth=5, reliability=reliability)
        )
        self.detections_pub = self.node.create_publisher(Detection2DArray, "detections", 10)
        self.received = Received()
        self.sent_at: dict[int, float] = {}  # time.monotonic() right before publishing
        self.encode_ms: dict[int, float] = {}  # serializing the frame's messages, before that
        self._lock = threading.Condition()
        subscribe = self.node.create_subscription
        subscribe(AmodalMaskArray, "amodal_masks", self._on_masks, 10, raw=True)
        subscribe(FrameStats, "stats", self._on_stats, 10, raw=True)
        if debug_image:
            subscribe(Image, "debug_image", self._on_debug, 2, raw=True)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _store(self, table: dict[int, Any], msg: Any, value: Any) -> None:
        with self._lock:
            table[stamp_ns(msg.header.stamp)] = value
            self._lock.notify_all()

    def _on_masks(self, raw: bytes) -> None:
        taken = time.monotonic()
        msg = self.codec.decode(raw, AMODAL_MASKS)
        self.received.masks_decode_ms[stamp_ns(msg.header.stamp)] = (
            time.monotonic() - taken
        ) * 1000.0
        self._store(self.received.masks, msg, (msg, taken))

    def _on_stats(self, raw: bytes) -> None:
        msg = self.codec.decode(raw, FRAME_STATS)
        self._store(self.received.stats, msg, msg)

    def _on_debug(self, raw: bytes) -> None:
        msg = self.codec.decode(raw, IMAGE)
        self._store(self.received.debug, msg, msg)

    def wait_for_node(self, timeout: float = 60.0) -> bool:
        """Wait until the node subscribes to our inputs and publishes amodal_masks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self.image_pub.get_subscription_count()
                and self.detections_pub.get_subscription_count()
                and self.node.count_publishers(self._resolved("amodal_masks"))
            ):
                return True
            time.sleep(0.1)
        return False

    def _resolved(self, topic: str) -> str:
        return self.node.resolve_topic_name(topic)

    def header(self, stamp: int) -> Any:
        return header_at(self.codec.typestore, stamp)

    def image_message(self, rgb: np.ndarray, stamp: int, **override: Any) -> Any:
        return image_message(self.codec.typestore, rgb, self.header(stamp), **override)

    def detections_message(self, frame: Frame, stamp: int) -> Any:
        return detections_message(self.codec.typestore, frame, self.header(stamp))

    def publish(self, image: Any, detections: Any, stamp: int) -> None:
        """Send an image and its detections (rosbags messages; either may be None) and note the
        time between serializing them (the camera's and detector's work) and publishing."""
        started = time.monotonic()
        raw_image = None if image is None else self.codec.encode(image)
        raw_detections = None if detections is None else self.codec.encode(detections)
        self.sent_at[stamp] = time.monotonic()
        self.encode_ms[stamp] = (self.sent_at[stamp] - started) * 1000.0
        if raw_image is not None:
            self.image_pub.publish(raw_image)
        if raw_detections is not None:
            self.detections_pub.publish(raw_detections)

    def send_frame(self, frame: Frame, stamp: int) -> None:
        image = self.image_message(frame.rgb, stamp)
        self.publish(image, self.detections_message(frame, stamp), stamp)

    def request(
        self, frame: Frame, stamp: int, timeout: float, resend_s: float | None = None
    ) -> Any | None:
        """Send a frame and wait for its masks. With `resend_s`, send it again while unanswered
        (a best-effort input may lose the first messages after discovery); keep resend_s above
        the node's time per frame, or the copies queue up behind each other."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_frame(frame, stamp)
            wait = deadline - time.monotonic()
            answer = self.wait_masks(stamp, wait if resend_s is None else min(resend_s, wait))
            if answer is not None or resend_s is None:
                return answer
        return None

    def wait_masks(self, stamp: int, timeout: float) -> Any | None:
        with self._lock:
            self._lock.wait_for(lambda: stamp in self.received.masks, timeout)
            entry = self.received.masks.get(stamp)
        return None if entry is None else entry[0]

    def latency_s(self, stamp: int) -> float:
        """Time from publishing the frame to taking its AmodalMaskArray from DDS."""
        return self.received.masks[stamp][1] - self.sent_at[stamp]

    def close(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()


def ensure_rclpy() -> None:
    """rclpy.init() once per process."""
    if not rclpy.ok():
        rclpy.init()
