"""A camera-and-detector stand-in that talks to a running sameo_node over DDS.

Publishes `image` (or `image/compressed`) and `detections` (with `depth=True` also `depth` and
`camera_info`), collects `amodal_masks`, `stats`, (optionally) `debug_image`, (with depth)
`detections_3d` and (with points) `points` with their arrival times, and calls the `segment`
service. Used by the demo, the benchmarks and the node tests. Messages are rclpy's classes; the
client serializes its inputs before it starts the clock and takes the answers as bytes before it
deserializes them (both with rclpy.serialization), so that a latency covers the node and DDS, and
the camera's, detector's and subscriber's own message work is timed apart (`encode_ms`,
`masks_decode_ms`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray

from sameo_ros.conversions import stamp_ns
from sameo_ros.messages import header, rclpy_types
from sameo_ros.msg import AmodalMaskArray, FrameStats
from sameo_ros.srv import SegmentAmodal

from .synthetic_frames import Frame, compressed_message, detections_message, image_message


@dataclass
class Received:
    """Messages by header stamp (ns); masks with the time.monotonic() at which their bytes were
    taken (before deserializing them, which `masks_decode_ms` times)."""

    masks: dict[int, tuple[Any, float]] = field(default_factory=dict)
    masks_decode_ms: dict[int, float] = field(default_factory=dict)
    stats: dict[int, Any] = field(default_factory=dict)
    debug: dict[int, Any] = field(default_factory=dict)
    detections_3d: dict[int, Any] = field(default_factory=dict)
    points: dict[int, Any] = field(default_factory=dict)


class SameoClient:
    """Publishes frames to sameo_node and gathers its answers (spins in a background thread).

    compressed: publish CompressedImage ("jpeg" or "png") on image/compressed instead of Image.
    topics: other names for image, detections, amodal_masks, depth, camera_info or
      detections_3d (e.g. remapped ones).
    depth: also publish depth and camera_info and collect detections_3d; points: also collect
      the labelled PointCloud2 (a node with `point_cloud: true`).
    """

    def __init__(
        self,
        image_reliability: str = "reliable",
        debug_image: bool = False,
        name: str = "sameo_client",
        namespace: str = "",
        compressed: str = "",
        topics: dict[str, str] | None = None,
        context: Any = None,
        depth: bool = False,
        points: bool = False,
    ) -> None:
        self.node = Node(name, namespace=namespace, context=context)
        names = {"image": "image", "detections": "detections", "amodal_masks": "amodal_masks",
                 "depth": "depth", "camera_info": "camera_info",
                 "detections_3d": "detections_3d", **(topics or {})}  # fmt: skip
        self.types = rclpy_types()
        self.compressed = compressed
        reliability = {
            "reliable": ReliabilityPolicy.RELIABLE,
            "best_effort": ReliabilityPolicy.BEST_EFFORT,
        }[image_reliability]
        image_qos = QoSProfile(depth=5, reliability=reliability)
        self.image_pub = self.node.create_publisher(
            CompressedImage if compressed else Image,
            names["image"] + "/compressed" if compressed else names["image"],
            image_qos,
        )
        self.detections_pub = self.node.create_publisher(
            Detection2DArray, names["detections"], 10
        )
        self.masks_topic = self.node.resolve_topic_name(names["amodal_masks"])
        self.segment = self.node.create_client(SegmentAmodal, "segment")
        self.received = Received()
        self.sent_at: dict[int, float] = {}  # time.monotonic() right before publishing
        self.encode_ms: dict[int, float] = {}  # serializing the frame's messages, before that
        self._lock = threading.Condition()
        subscribe = self.node.create_subscription
        subscribe(AmodalMaskArray, self.masks_topic, self._on_masks, 10, raw=True)
        subscribe(FrameStats, "stats", lambda m: self._store(self.received.stats, m, m), 10)
        if debug_image:
            subscribe(Image, "debug_image", lambda m: self._store(self.received.debug, m, m), 2)
        self.depth_pub = self.camera_info_pub = None
        # Outputs wait_for_node waits to be matched: a reliable message published before
        # discovery pairs the two ends is lost, and these are sent once per frame.
        self._matched_outputs = []
        if depth:
            self.depth_pub = self.node.create_publisher(Image, names["depth"], image_qos)
            self.camera_info_pub = self.node.create_publisher(
                CameraInfo, names["camera_info"], 10
            )
            self._matched_outputs.append(
                subscribe(Detection3DArray, names["detections_3d"],
                          lambda m: self._store(self.received.detections_3d, m, m), 10)
            )  # fmt: skip
        if points:
            self._matched_outputs.append(
                subscribe(PointCloud2, "points", lambda m: self._store(self.received.points, m, m),
                          2)
            )  # fmt: skip
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _store(self, table: dict[int, Any], msg: Any, value: Any) -> None:
        with self._lock:
            table[stamp_ns(msg.header.stamp)] = value
            self._lock.notify_all()

    def _on_masks(self, raw: bytes) -> None:
        taken = time.monotonic()
        msg = deserialize_message(raw, AmodalMaskArray)
        decode_ms = (time.monotonic() - taken) * 1000.0
        self.received.masks_decode_ms[stamp_ns(msg.header.stamp)] = decode_ms
        self._store(self.received.masks, msg, (msg, taken))

    def wait_for_node(self, timeout: float = 60.0) -> bool:
        """Wait until the node subscribes to our inputs and publishes amodal_masks, and (with
        depth or points) until its 3D outputs are matched with our subscriptions."""
        inputs = [self.image_pub, self.detections_pub]
        inputs += [p for p in (self.depth_pub, self.camera_info_pub) if p is not None]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                all(p.get_subscription_count() for p in inputs)
                and self.node.count_publishers(self.masks_topic)
                and all(s.get_publisher_count() for s in self._matched_outputs)
            ):
                return True
            time.sleep(0.1)
        return False

    def header(self, stamp: int, frame_id: str = "camera") -> Any:
        return header(self.types, stamp, frame_id)

    def image_message(self, rgb: np.ndarray, stamp: int, **override: Any) -> Any:
        if self.compressed:
            return compressed_message(self.types, rgb, self.header(stamp), self.compressed)
        return image_message(self.types, rgb, self.header(stamp), **override)

    def detections_message(self, frame: Frame, stamp: int) -> Any:
        return detections_message(self.types, frame, self.header(stamp))

    def publish(self, image: Any, detections: Any, stamp: int) -> None:
        """Send an image and its detections (either may be None), noting the time spent
        serializing them (the camera's and detector's work) and the time of publishing."""
        started = time.monotonic()
        raw_image = None if image is None else serialize_message(image)
        raw_detections = None if detections is None else serialize_message(detections)
        self.sent_at[stamp] = time.monotonic()
        self.encode_ms[stamp] = (self.sent_at[stamp] - started) * 1000.0
        if raw_image is not None:
            self.image_pub.publish(raw_image)
        if raw_detections is not None:
            self.detections_pub.publish(raw_detections)

    def publish_depth(self, depth: Any, camera_info: Any) -> None:
        """Send a frame's depth Image and CameraInfo (either may be None); before its image."""
        assert self.depth_pub is not None and self.camera_info_pub is not None, "depth=False"
        if depth is not None:
            self.depth_pub.publish(depth)
        if camera_info is not None:
            self.camera_info_pub.publish(camera_info)

    def _wait(self, table: dict[int, Any], stamp: int, timeout: float) -> Any | None:
        """What `table` holds for `stamp` once it arrives (None after `timeout` seconds)."""
        with self._lock:
            self._lock.wait_for(lambda: stamp in table, timeout)
            return table.get(stamp)

    def wait_3d(self, stamp: int, timeout: float) -> Any | None:
        return self._wait(self.received.detections_3d, stamp, timeout)

    def wait_points(self, stamp: int, timeout: float) -> Any | None:
        """The frame's labelled PointCloud2. It is published after the Detection3DArray but
        arrives on its own subscription, so it may come in a moment later."""
        return self._wait(self.received.points, stamp, timeout)

    def send_frame(self, frame: Frame, stamp: int) -> None:
        image = self.image_message(frame.rgb, stamp)
        self.publish(image, self.detections_message(frame, stamp), stamp)

    def request(
        self, frame: Frame, stamp: int, timeout: float, resend_s: float | None = None,
        depth: tuple[Any, Any] | None = None,
    ) -> Any | None:  # fmt: skip
        """Send a frame and wait for its masks. With `resend_s`, send it again while unanswered
        (a best-effort input may lose the first messages after discovery); keep resend_s above
        the node's time per frame, or the copies queue up behind each other. `depth`: the
        frame's (depth Image, CameraInfo), sent before it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if depth is not None:
                self.publish_depth(*depth)
            self.send_frame(frame, stamp)
            wait = deadline - time.monotonic()
            answer = self.wait_masks(stamp, wait if resend_s is None else min(resend_s, wait))
            if answer is not None or resend_s is None:
                return answer
        return None

    def wait_masks(self, stamp: int, timeout: float) -> Any | None:
        entry = self._wait(self.received.masks, stamp, timeout)
        return None if entry is None else entry[0]

    def wait_stats(self, stamp: int, timeout: float) -> Any | None:
        return self._wait(self.received.stats, stamp, timeout)

    def wait_debug(self, stamp: int, timeout: float) -> Any | None:
        """The frame's debug overlay Image (published after the AmodalMaskArray)."""
        return self._wait(self.received.debug, stamp, timeout)

    def latency_s(self, stamp: int) -> float:
        """Time from publishing the frame to taking its AmodalMaskArray from DDS."""
        return self.received.masks[stamp][1] - self.sent_at[stamp]

    def call_segment(self, request: Any, timeout: float) -> Any | None:
        """The `segment` service's response to `request` (None on timeout)."""
        if not self.segment.wait_for_service(timeout):
            return None
        future = self.segment.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        done.wait(timeout)
        return future.result() if future.done() else None

    def segment_request(self, frame: Frame, stamp: int, points: Any = ()) -> Any:
        return SegmentAmodal.Request(
            image=image_message(self.types, frame.rgb, self.header(stamp)),
            detections=self.detections_message(frame, stamp),
            points=list(points),
        )

    def close(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()
