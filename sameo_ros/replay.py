"""Offline replay: run SAMEO over a rosbag2 and write the AmodalMaskArray stream to a new bag.

  python -m sameo_ros.replay IN_BAG OUT_BAG --image-topic /camera/image_raw \
      --detections-topic /detections [--checkpoint sameo.pt] [--debug-images] \
      [--depth-topic /camera/depth --camera-info-topic /camera/camera_info] \
      [--no-tracking] [--hidden-timeout 5] [--max-stamp-jump 1]

Needs no ROS installation: rosbags reads and writes the bags (mcap and sqlite3) and supplies the
message classes, which the shared conversions and builders read and fill by attribute, as the
node does with rclpy's. Pairing, the model pipeline and message building are the node's; unlike
the node it processes every pair, in bag order. With a depth topic (and its CameraInfo topic) it
writes the node's Detection3DArray too: a pair waits until the bag has reached its stamp on both
(or ends), so a depth image recorded after its detections still counts. Image and
CompressedImage inputs both work. The output carries the message definitions and type hashes, so
`ros2 bag play` publishes it.

Tracking is on by default, as in the node: the bag's frames go through one camera's tracker
(camera_tracks.CameraTracks) in bag order, so the output carries track ids and the HIDDEN and
RECOVERED tracks (README, "ROS 2 node"); the tracker's warnings (a stamp going backwards in a
looped bag resets the tracks) are printed, and the summary line says how many tracks there were.
`--no-tracking` processes every frame alone (track_id 0).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from tqdm import tqdm

from sameo_core.tools import cli
from sameo_core.tracking import TrackState

from .camera_tracks import CameraTracks
from .conversions import stamp_ns
from .messages import MessageTypes, amodal_mask_array, copy_header, detection_3d_array, rgb_image
from .overlay import draw_overlay
from .pairing import Pair, StampBuffer, StampPairer
from .params import NodeConfig, tracker_config
from .pipeline import FrameInputs, FramePipeline

OWN_TYPES = ("AmodalMask", "AmodalMaskArray", "FrameStats", "PointPrompts")
VISION_TYPES = ("Point2D", "Pose2D", "BoundingBox2D", "ObjectHypothesis")  # used by AmodalMask
VISION_INPUT_TYPES = (*VISION_TYPES, "ObjectHypothesisWithPose", "Detection2D", "Detection2DArray")
VISION_3D_TYPES = ("ObjectHypothesisWithPose", "BoundingBox3D", "Detection3D", "Detection3DArray")
MASKS_TYPE = "sameo_ros/msg/AmodalMaskArray"
DETECTIONS_3D_TYPE = "vision_msgs/msg/Detection3DArray"


def rosbags_types(typestore: Any) -> MessageTypes:
    """rosbags' message classes of `typestore` (uint8[] fields take numpy arrays)."""
    return MessageTypes(typestore.types.__getitem__, lambda data: data)


def installed_msg_dir(package: str) -> Path | None:
    """share/<package>/msg under the first AMENT_PREFIX_PATH prefix that has it, else None."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package / "msg"
        if prefix and candidate.is_dir():
            return candidate
    return None


def msg_dir() -> Path:
    """The directory of sameo_ros' .msg files (source checkout or installed share/)."""
    source = Path(__file__).resolve().parents[1] / "msg"
    for candidate in (source, installed_msg_dir("sameo_ros")):
        if candidate is not None and (candidate / "AmodalMask.msg").is_file():
            return candidate
    raise FileNotFoundError(
        f"no sameo_ros .msg files in {source} nor in share/sameo_ros/msg on AMENT_PREFIX_PATH"
    )


def types_from_dir(directory: Path, package: str, names: tuple[str, ...]) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for name in names:
        text = (directory / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"{package}/msg/{name}"))
    return types


def types_from_connection(connection: Any) -> dict[str, Any]:
    """All types in a rosbag2 connection's stored definition ({} when the bag has none)."""
    msgdef = getattr(connection, "msgdef", None)
    if msgdef is None or not msgdef.data:
        return {}
    return dict(get_types_from_msg(msgdef.data, connection.msgtype))


def output_typestore(vision_types: dict[str, Any], needed: tuple[str, ...] = VISION_TYPES) -> Any:
    """Jazzy standard types + vision_msgs + sameo_ros messages."""
    missing = [n for n in needed if f"vision_msgs/msg/{n}" not in vision_types]
    if missing:
        raise ValueError(
            f"no definition of vision_msgs {missing}: the input bag stores none; "
            "pass --vision-msgs-dir with the vision_msgs .msg files"
        )
    typestore = get_typestore(Stores.ROS2_JAZZY)
    typestore.register(vision_types)
    typestore.register(types_from_dir(msg_dir(), "sameo_ros", OWN_TYPES))
    return typestore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("in_bag", type=Path)
    p.add_argument("out_bag", type=Path, help="new bag directory (must not exist)")
    p.add_argument("--image-topic", required=True, help="sensor_msgs/Image or CompressedImage")
    p.add_argument("--detections-topic", required=True)
    p.add_argument("--masks-topic", default="/sameo/amodal_masks")
    p.add_argument("--debug-topic", default="/sameo/debug_image")
    p.add_argument("--debug-images", action="store_true", help="also write overlay images")
    p.add_argument("--checkpoint", default="")
    p.add_argument("--variant", default="", help="model size; empty = from the checkpoint")
    p.add_argument("--device", default="cpu")
    p.add_argument("--sync-slop", type=float, default=NodeConfig.sync_slop, help="seconds")
    p.add_argument("--max-detections", type=int, default=NodeConfig.max_detections)
    p.add_argument("--depth-topic", default="", help="depth Image (16UC1 mm or 32FC1 m) "
                   "registered to the image: also write Detection3DArray")
    p.add_argument("--camera-info-topic", default="", help="CameraInfo of the image "
                   "(required with --depth-topic)")
    p.add_argument("--detections-3d-topic", default="/sameo/detections_3d")
    p.add_argument("--no-tracking", dest="tracking", action="store_false",
                   help="every frame alone: no track ids, no hidden objects")
    p.add_argument("--hidden-timeout", type=float, default=NodeConfig.hidden_timeout,
                   help="seconds a fully hidden object is kept (the node's hidden_timeout)")
    p.add_argument("--max-stamp-jump", type=float, default=NodeConfig.max_stamp_jump,
                   help="seconds between frames beyond which the tracks reset")
    p.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    p.add_argument(
        "--vision-msgs-dir",
        type=Path,
        help="vision_msgs .msg files, if the input bag stores no message definitions",
    )
    args = p.parse_args(argv)
    if bool(args.depth_topic) != bool(args.camera_info_topic):
        p.error("--depth-topic and --camera-info-topic go together")
    return args


class BagReplay:
    """Reads image/detection pairs from a bag, writes SAMEO's answers to another."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.config = NodeConfig(
            checkpoint=args.checkpoint,
            variant=args.variant,
            device=args.device,
            sync_slop=args.sync_slop,
            max_detections=args.max_detections,
            depth=bool(args.depth_topic),
            tracking=args.tracking,
            hidden_timeout=args.hidden_timeout,
            max_stamp_jump=args.max_stamp_jump,
        )
        self.tracks = CameraTracks(tracker_config(self.config)) if args.tracking else None
        self.track_ids: set[int] = set()
        self.hidden_reports = 0
        self.pipeline = FramePipeline.from_config(self.config)
        slop_ns = int(args.sync_slop * 1e9)
        self.pairer: StampPairer[Any, Any] = StampPairer(slop_ns)
        self.depth: StampBuffer[Any] = StampBuffer(slop_ns, history=64)
        self.camera_info: StampBuffer[Any] = StampBuffer(slop_ns, history=64)
        self.waiting: list[tuple[Pair, int]] = []  # pairs whose depth may still come
        self.written = self.skipped = self.without_3d = 0

    def run(self) -> None:
        args = self.args
        inputs = {args.image_topic, args.detections_topic}
        if args.depth_topic:
            inputs |= {args.depth_topic, args.camera_info_topic}
        with Reader(args.in_bag) as reader:
            wanted = [c for c in reader.connections if c.topic in inputs]
            topics = {c.topic for c in wanted}
            if topics != inputs:
                raise ValueError(f"topics missing in {args.in_bag}: {sorted(inputs - topics)}")
            store_in, store_out = self._typestores(wanted)
            self.types = rosbags_types(store_out)
            storage = StoragePlugin.MCAP if args.storage == "mcap" else StoragePlugin.SQLITE3
            with Writer(args.out_bag, version=9, storage_plugin=storage) as writer:
                self._open_outputs(writer, store_out)
                total = sum(c.msgcount for c in wanted)
                for connection, time_ns, raw in tqdm(
                    reader.messages(connections=wanted), total=total, unit="msg", desc="replay"
                ):
                    msg = store_in.deserialize_cdr(raw, connection.msgtype)
                    self._feed(connection.topic, msg, writer, time_ns)
                self._process_ready(writer, final=True)
        print(
            f"wrote {self.written} AmodalMaskArray messages to {args.out_bag} "
            f"({self.skipped} frames skipped, {self.pairer.unmatched_total} detections unpaired"
            + (f", {self.without_3d} frames without 3D)" if args.depth_topic else ")")
        )
        if self.tracks is None:
            print("tracking: off (every frame alone, track_id 0)")
        else:
            print(f"tracking: on (hidden_timeout {self.config.hidden_timeout:g} s): "
                  f"{len(self.track_ids)} tracks, {self.hidden_reports} hidden-object reports")

    def _typestores(self, connections: list[Any]) -> tuple[Any, Any]:
        found: dict[str, Any] = {}
        for connection in connections:
            found.update(types_from_connection(connection))
        store_in = get_typestore(Stores.ROS2_JAZZY)
        if self.args.vision_msgs_dir is not None:
            found.update(
                types_from_dir(self.args.vision_msgs_dir, "vision_msgs", VISION_INPUT_TYPES)
            )
        store_in.register(found)
        vision = {name: t for name, t in found.items() if name.startswith("vision_msgs/")}
        needed = VISION_TYPES
        if self.args.depth_topic:
            needed = (*VISION_TYPES, *VISION_3D_TYPES)
            installed = self.args.vision_msgs_dir or installed_msg_dir("vision_msgs")
            if any(f"vision_msgs/msg/{n}" not in vision for n in needed) and installed:
                vision.update(types_from_dir(installed, "vision_msgs", VISION_3D_TYPES))
        return store_in, output_typestore(vision, needed)

    def _open_outputs(self, writer: Writer, typestore: Any) -> None:
        self.typestore = typestore
        self.masks_conn = writer.add_connection(
            self.args.masks_topic, MASKS_TYPE, typestore=typestore
        )
        self.debug_conn = (
            writer.add_connection(
                self.args.debug_topic, "sensor_msgs/msg/Image", typestore=typestore
            )
            if self.args.debug_images
            else None
        )
        self.detections_3d_conn = (
            writer.add_connection(
                self.args.detections_3d_topic, DETECTIONS_3D_TYPE, typestore=typestore
            )
            if self.args.depth_topic
            else None
        )

    def _feed(self, topic: str, msg: Any, writer: Writer, time_ns: int) -> None:
        stamp = stamp_ns(msg.header.stamp)
        if topic == self.args.depth_topic:
            self.depth.add(stamp, msg)
        elif topic == self.args.camera_info_topic:
            self.camera_info.add(stamp, msg)
        else:
            add = self.pairer.add_image if topic == self.args.image_topic else (
                self.pairer.add_detections)  # fmt: skip
            self.waiting += [(pair, time_ns) for pair in add(stamp, msg).pairs]
        self._process_ready(writer)

    def _process_ready(self, writer: Writer, final: bool = False) -> None:
        """Process the waiting pairs whose depth and CameraInfo can no longer get nearer
        (the bag is past their stamp on both topics), or all of them at the end."""
        while self.waiting:
            pair, time_ns = self.waiting[0]
            if self.args.depth_topic and not final:
                latest = (self.depth.latest_stamp, self.camera_info.latest_stamp)
                if any(s is None or s < pair.image_stamp for s in latest):
                    return
            self.waiting.pop(0)
            self._process(pair, writer, time_ns)

    def _process(self, pair: Pair, writer: Writer, time_ns: int) -> None:
        depth = camera_info = None
        if self.args.depth_topic:
            depth = self.depth.match(pair.image_stamp)
            camera_info = self.camera_info.match(pair.image_stamp)
        try:
            result = self.pipeline.process(FrameInputs(
                pair.image, pair.detections, depth=depth, camera_info=camera_info,
                tracks=self.tracks,
            ))  # fmt: skip
        except ValueError as error:
            tqdm.write(f"skipping frame at {pair.image_stamp * 1e-9:.6f} s: {error}")
            self.skipped += 1
            return
        for warning in result.tracking.warnings if result.tracking is not None else ():
            tqdm.write(f"tracker at {pair.image_stamp * 1e-9:.6f} s: {warning}")
        self.track_ids.update(r.track_id for r in result.records if r.track_id)
        self.hidden_reports += sum(r.track_state == TrackState.HIDDEN for r in result.records)
        header = copy_header(self.types, pair.image.header)
        message = amodal_mask_array(self.types, header, result.records)
        writer.write(self.masks_conn, time_ns, self.typestore.serialize_cdr(message, MASKS_TYPE))
        if self.detections_3d_conn is not None:
            if result.depth_error is not None:
                tqdm.write(f"no 3D at {pair.image_stamp * 1e-9:.6f} s: {result.depth_error}")
                self.without_3d += 1
            message_3d = detection_3d_array(self.types, header, result.records)
            raw = self.typestore.serialize_cdr(message_3d, DETECTIONS_3D_TYPE)
            writer.write(self.detections_3d_conn, time_ns, raw)
        if self.debug_conn is not None:
            drawn = draw_overlay(result.host_image(), result.records)
            overlay = rgb_image(self.types, header, drawn)
            writer.write(
                self.debug_conn,
                time_ns,
                self.typestore.serialize_cdr(overlay, "sensor_msgs/msg/Image"),
            )
        self.written += 1


def main(argv: list[str] | None = None) -> None:
    BagReplay(parse_args(argv)).run()


if __name__ == "__main__":
    cli.run(main)
