"""Offline replay: run SAMEO over a rosbag2 and write the AmodalMaskArray stream to a new bag.

  python -m sameo_ros.replay IN_BAG OUT_BAG --image-topic /camera/image_raw \
      --detections-topic /detections [--checkpoint sameo.pt] [--debug-images]

Needs no ROS installation (rosbags reads and writes mcap and sqlite3 bags). It shares pairing,
conversion and message building with the node; unlike the node it processes every pair, in bag
order. The output carries the message definitions and type hashes, so `ros2 bag play` publishes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from tqdm import tqdm

from .bagtypes import (
    VISION_INPUT_TYPES,
    output_typestore,
    types_from_connection,
    types_from_dir,
)
from .conversions import detections_to_prompts, stamp_ns
from .messages import amodal_mask_array, copy_header, rgb_image, rosbags_types
from .overlay import draw_overlay
from .pairing import Pair, StampPairer
from .params import NodeConfig
from .pipeline import FramePipeline, build_predictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("in_bag", type=Path)
    p.add_argument("out_bag", type=Path, help="new bag directory (must not exist)")
    p.add_argument("--image-topic", required=True)
    p.add_argument("--detections-topic", required=True)
    p.add_argument("--masks-topic", default="/sameo/amodal_masks")
    p.add_argument("--debug-topic", default="/sameo/debug_image")
    p.add_argument("--debug-images", action="store_true", help="also write overlay images")
    p.add_argument("--checkpoint", default="")
    p.add_argument("--variant", default="", help="model size; empty = from the checkpoint")
    p.add_argument("--device", default="cpu")
    p.add_argument("--sync-slop", type=float, default=NodeConfig.sync_slop, help="seconds")
    p.add_argument("--max-detections", type=int, default=NodeConfig.max_detections)
    p.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    p.add_argument(
        "--vision-msgs-dir",
        type=Path,
        help="vision_msgs .msg files, if the input bag stores no message definitions",
    )
    return p.parse_args(argv)


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
        )
        self.pipeline = FramePipeline(build_predictor(self.config), self.config)
        self.pairer: StampPairer[Any, Any] = StampPairer(int(args.sync_slop * 1e9))
        self.written = self.skipped = 0

    def run(self) -> None:
        args = self.args
        with Reader(args.in_bag) as reader:
            wanted = [
                c
                for c in reader.connections
                if c.topic in (args.image_topic, args.detections_topic)
            ]
            topics = {c.topic for c in wanted}
            if topics != {args.image_topic, args.detections_topic}:
                raise SystemExit(
                    f"topics missing in {args.in_bag}: "
                    f"{sorted({args.image_topic, args.detections_topic} - topics)}"
                )
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
        print(
            f"wrote {self.written} AmodalMaskArray messages to {args.out_bag} "
            f"({self.skipped} frames skipped, {self.pairer.unmatched_total} detections unpaired)"
        )

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
        return store_in, output_typestore(vision)

    def _open_outputs(self, writer: Writer, typestore: Any) -> None:
        self.typestore = typestore
        self.masks_conn = writer.add_connection(
            self.args.masks_topic, "sameo_ros/msg/AmodalMaskArray", typestore=typestore
        )
        self.debug_conn = (
            writer.add_connection(
                self.args.debug_topic, "sensor_msgs/msg/Image", typestore=typestore
            )
            if self.args.debug_images
            else None
        )

    def _feed(self, topic: str, msg: Any, writer: Writer, time_ns: int) -> None:
        stamp = stamp_ns(msg.header.stamp)
        if topic == self.args.image_topic:
            result = self.pairer.add_image(stamp, msg)
        else:
            result = self.pairer.add_detections(stamp, msg)
        for pair in result.pairs:
            self._process(pair, writer, time_ns)

    def _process(self, pair: Pair, writer: Writer, time_ns: int) -> None:
        try:
            result = self.pipeline.process(pair.image, detections_to_prompts(pair.detections))
        except ValueError as error:
            tqdm.write(f"skipping frame at {pair.image_stamp * 1e-9:.6f} s: {error}")
            self.skipped += 1
            return
        header = copy_header(self.types, pair.image.header)
        message = amodal_mask_array(self.types, header, result)
        writer.write(
            self.masks_conn,
            time_ns,
            self.typestore.serialize_cdr(message, "sameo_ros/msg/AmodalMaskArray"),
        )
        if self.debug_conn is not None:
            overlay = rgb_image(self.types, header, draw_overlay(result.image, result.records))
            writer.write(
                self.debug_conn,
                time_ns,
                self.typestore.serialize_cdr(overlay, "sensor_msgs/msg/Image"),
            )
        self.written += 1


def main(argv: list[str] | None = None) -> None:
    BagReplay(parse_args(argv)).run()


if __name__ == "__main__":
    main()
