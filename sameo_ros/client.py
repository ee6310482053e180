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
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from sameo_ros.msg import AmodalMaskArray, FrameStats

from .conversions import stamp_ns, xyxy_to_center_size
from .messages import rclpy_types, rgb_image
from .scene import Frame


def header_at(stamp: int, frame_id: str = "camera") -> Header:
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    return header


def image_msg(rgb: np.ndarray, header: Header) -> Image:
    return rgb_image(rclpy_types(), header, rgb)


def detections_msg(frame: Frame, header: Header) -> Detection2DArray:
    detections = []
    for box, det_id, class_id, score in zip(frame.boxes, frame.ids, frame.class_ids, frame.scores):
        det = Detection2D(header=header, id=det_id)
        cx, cy, det.bbox.size_x, det.bbox.size_y = xyxy_to_center_size(box)
        det.bbox.center.position.x, det.bbox.center.position.y = cx, cy
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = class_id, float(score)
        det.results = [hypothesis]
        detections.append(det)
    return Detection2DArray(header=header, detections=detections)


@dataclass
class Received:
    """Messages by header stamp (ns) with their arrival times (time.monotonic)."""

    masks: dict[int, tuple[AmodalMaskArray, float]] = field(default_factory=dict)
    stats: dict[int, FrameStats] = field(default_factory=dict)
    debug: dict[int, Image] = field(default_factory=dict)


class SameoClient:
    """Publishes frames to sameo_node and gathers its answers (spins in a background thread)."""

    def __init__(
        self,
        image_reliability: str = "reliable",
        debug_image: bool = False,
        name: str = "sameo_client",
        namespace: str = "",
    ) -> None:
        self.node = Node(name, namespace=namespace)
        reliability = {
            "reliable": ReliabilityPolicy.RELIABLE,
            "best_effort": ReliabilityPolicy.BEST_EFFORT,
        }[image_reliability]
        self.image_pub = self.node.create_publisher(
            Image, "image", QoSProfile(depth=5, reliability=reliability)
        )
        self.detections_pub = self.node.create_publisher(Detection2DArray, "detections", 10)
        self.received = Received()
        self.sent_at: dict[int, float] = {}
        self._lock = threading.Condition()
        self.node.create_subscription(AmodalMaskArray, "amodal_masks", self._on_masks, 10)
        self.node.create_subscription(FrameStats, "stats", self._on_stats, 10)
        if debug_image:
            self.node.create_subscription(Image, "debug_image", self._on_debug, 2)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _store(self, table: dict[int, Any], msg: Any, value: Any) -> None:
        with self._lock:
            table[stamp_ns(msg.header.stamp)] = value
            self._lock.notify_all()

    def _on_masks(self, msg: AmodalMaskArray) -> None:
        self._store(self.received.masks, msg, (msg, time.monotonic()))

    def _on_stats(self, msg: FrameStats) -> None:
        self._store(self.received.stats, msg, msg)

    def _on_debug(self, msg: Image) -> None:
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

    def publish(self, image: Any, detections: Any, stamp: int) -> None:
        """Send an image and its detections (either may be None) and note the time."""
        self.sent_at[stamp] = time.monotonic()
        if image is not None:
            self.image_pub.publish(image)
        if detections is not None:
            self.detections_pub.publish(detections)

    def send_frame(self, frame: Frame, stamp: int) -> None:
        header = header_at(stamp)
        self.publish(image_msg(frame.rgb, header), detections_msg(frame, header), stamp)

    def request(
        self, frame: Frame, stamp: int, timeout: float, resend_s: float | None = None
    ) -> AmodalMaskArray | None:
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

    def wait_masks(self, stamp: int, timeout: float) -> AmodalMaskArray | None:
        with self._lock:
            self._lock.wait_for(lambda: stamp in self.received.masks, timeout)
            entry = self.received.masks.get(stamp)
        return None if entry is None else entry[0]

    def latency_s(self, stamp: int) -> float:
        """Send-to-receive time of the masks of `stamp`."""
        return self.received.masks[stamp][1] - self.sent_at[stamp]

    def close(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()


def ensure_rclpy() -> None:
    """rclpy.init() once per process."""
    if not rclpy.ok():
        rclpy.init()
