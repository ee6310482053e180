"""One camera of an active sameo_node: its subscriptions, publishers, stamp pairing and state.

A node serves the cameras of its `cameras` parameter with one model (README, "ROS 2 node").
Camera `c` subscribes to `c/image` (or `c/image/compressed`) and `c/detections`, with depth also
`c/depth` and `c/camera_info`, and publishes `c/amodal_masks`, `c/stats`, `c/debug_image` and,
with depth, `c/detections_3d` (and `c/points`); the unnamed camera ("") uses the plain names.
Callbacks only pair the messages by stamp and put the newest pair in the camera's slot of the
worker's NewestFrames (serving.py); everything else happens in the worker.

`CameraState` is what a camera carries from frame to frame, ROS-free: its counters, its latency
window, the time of its last pair and its amodal tracks (camera_tracks.CameraTracks: the node
keeps them across activations so that track ids are never reused, and resets them on
deactivate).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray

from sameo_ros.msg import AmodalMaskArray, FrameStats

from .camera_tracks import CameraTracks
from .conversions import stamp_ns
from .latency_stats import FrameRateStats
from .pairing import Pair, PairingResult, StampBuffer, StampPairer
from .params import NodeConfig

if TYPE_CHECKING:
    from .node import SameoNode

Handover = Callable[[int, tuple[Pair, float]], None]  # (camera index, (pair, paired at))


@dataclass
class CameraState:
    """What one camera carries from frame to frame (counters are totals since activation)."""

    name: str
    stats_window: int
    tracks: CameraTracks = field(default_factory=CameraTracks)
    activated_at: float = field(default_factory=time.monotonic)
    last_pair_at: float | None = None
    frames: int = 0  # answered
    skipped: int = 0  # failed and dropped
    detections_received: int = 0
    first_frame_logged: bool = False
    stats: FrameRateStats = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.stats = FrameRateStats(self.stats_window)

    def count(self, name: str) -> None:
        """Add one to counter `name` (callbacks and the worker count from their own threads)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def seconds_since_pair(self, now: float | None = None) -> float:
        """Since this camera's last image/detections pair, or since activation."""
        now = time.monotonic() if now is None else now
        return now - (self.last_pair_at or self.activated_at)

    def frame_label(self, stamp: int) -> str:
        """How logs name a frame of this camera: "frame at 12.5 s", "head frame at 12.5 s"."""
        return f"{self.name + ' ' if self.name else ''}frame at {stamp * 1e-9:.6f} s"


class CameraPort:
    """The subscriptions, publishers and stamp pairing of camera `index` in an active node."""

    def __init__(
        self, node: SameoNode, config: NodeConfig, index: int, qos: QoSProfile,
        hand_over: Handover,
    ) -> None:  # fmt: skip
        self.node, self.config, self.index = node, config, index
        self.name = config.cameras[index]
        self.state = CameraState(self.name, config.stats_window, node.tracks_of(self.name))
        self._hand_over_pair = hand_over
        slop_ns = int(config.sync_slop * 1e9)
        self.pairer: StampPairer[Any, Any] = StampPairer(slop_ns)
        self.depth: StampBuffer[Any] = StampBuffer(slop_ns)
        self.camera_info: StampBuffer[Any] = StampBuffer(slop_ns)
        image = node.resolve_topic_name(self.topic("image"))
        if config.image_transport == "compressed":  # image_transport's naming: <image>/compressed
            self.image_topic, image_type = image + "/compressed", CompressedImage
        else:
            self.image_topic, image_type = image, Image
        subscribe = node.create_subscription
        self.subscriptions = [
            subscribe(image_type, self.image_topic, self._on_image, qos),
            subscribe(Detection2DArray, self.topic("detections"), self._on_detections, qos),
        ]
        self.detections_3d_pub = self.points_pub = None
        if config.depth:
            self.subscriptions += [
                subscribe(Image, self.topic("depth"), self._on_depth, qos),
                subscribe(CameraInfo, self.topic("camera_info"), self._on_camera_info, qos),
            ]
            self.detections_3d_pub = node.create_publisher(
                Detection3DArray, self.topic("detections_3d"), 10
            )
            if config.point_cloud:
                self.points_pub = node.create_publisher(PointCloud2, self.topic("points"), 2)
        self.masks_pub = node.create_publisher(AmodalMaskArray, self.topic("amodal_masks"), 10)
        self.stats_pub = node.create_publisher(FrameStats, self.topic("stats"), 10)
        self.debug_pub = node.create_publisher(Image, self.topic("debug_image"), 1)

    def topic(self, name: str) -> str:
        return self.config.topic(self.name, name)

    def close(self) -> None:
        node = self.node
        for subscription in self.subscriptions:
            node.destroy_subscription(subscription)
        for publisher in (self.masks_pub, self.stats_pub, self.debug_pub, self.detections_3d_pub,
                          self.points_pub):  # fmt: skip
            if publisher is not None:
                node.destroy_publisher(publisher)

    # Callbacks: pair the messages by stamp and hand over, nothing else.
    def _on_image(self, msg: Any) -> None:
        self._hand_over(self.pairer.add_image(stamp_ns(msg.header.stamp), msg))

    def _on_detections(self, msg: Any) -> None:
        self.state.count("detections_received")
        self._hand_over(self.pairer.add_detections(stamp_ns(msg.header.stamp), msg))

    def _on_depth(self, msg: Any) -> None:
        self.depth.add(stamp_ns(msg.header.stamp), msg)

    def _on_camera_info(self, msg: Any) -> None:
        self.camera_info.add(stamp_ns(msg.header.stamp), msg)

    def _hand_over(self, result: PairingResult) -> None:
        for stamp in result.unmatched:
            self.node.warn(
                f"{self.name} unpaired",
                f"{self.name + ': ' if self.name else ''}detections at {stamp * 1e-9:.6f} s found "
                f"no image within sync_slop {self.config.sync_slop} s "
                f"({self.pairer.unmatched_total} so far)",
            )  # fmt: skip
        for pair in result.pairs:
            self.state.last_pair_at = time.monotonic()
            self._hand_over_pair(self.index, (pair, self.state.last_pair_at))

    def depth_inputs(self, stamp: int, deadline: float) -> tuple[Any, Any]:
        """The depth image and CameraInfo of `stamp`, waiting until `deadline` (time.monotonic)
        at most for them (None for each one that did not come within sync_slop). The worker
        gives every frame it took at once one deadline, depth_wait from then."""
        if not self.config.depth:
            return None, None
        depth = self.depth.match(stamp, max(deadline - time.monotonic(), 0.0))
        camera_info = self.camera_info.match(stamp, max(deadline - time.monotonic(), 0.0))
        return depth, camera_info
