"""Per-frame message costs of sameo_node with rclpy's classes vs rosbags on raw subscriptions.

  python -m sameo_ros.harness.message_costs [--width 1280 --height 720] [--detections 20] \
      [--json out/message_costs.json]

For one synthetic frame, what the node does with its messages, each way: the Image from its
serialized bytes to an RGB view, the Detection2DArray to prompts, and the AmodalMaskArray (masks
= the scene's true amodal masks cropped to their boxes, as the node publishes them) from mask
records to serialized bytes. rclpy: rclpy.serialization (what taking from and publishing to
typed subscriptions and publishers run) with the generated classes; rosbags: its CDR codec and
dataclasses on the bytes of raw subscriptions, with the copies a raw subscription and publisher
add (taking makes a new `bytes`, publishing takes `bytes`). Conversions and builders are the
node's own, by attribute. The ways take turns round by round; figures are medians in milliseconds
(BENCHMARKS.md, "ROS node"). Needs the colcon-built workspace (`make ros`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sameo_core.tools import cli

from .figures import machine, report
from .node_process import activate_isolated_workspace
from .node_session import add_frame_arguments
from .synthetic_frames import detections_message, ground_truth_records, image_message, scene_frame

IMAGE = "sensor_msgs/msg/Image"
DETECTIONS = "vision_msgs/msg/Detection2DArray"
MASKS = "sameo_ros/msg/AmodalMaskArray"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_frame_arguments(p, width=1280, height=720)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--calls", type=int, default=10, help="calls per round")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def compare(ways: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, float]:
    """Median milliseconds per call of each way, the ways taking turns round by round."""
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            for _ in range(calls):
                way()
            samples[name].append((time.perf_counter() - start) * 1000.0 / calls)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    activate_isolated_workspace()
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from sameo_ros.conversions import detections_to_prompts, image_to_rgb
    from sameo_ros.messages import amodal_mask_array, copy_header, header, rclpy_types
    from sameo_ros.replay import (
        VISION_INPUT_TYPES,
        installed_msg_dir,
        output_typestore,
        rosbags_types,
        types_from_dir,
    )

    vision_dir = installed_msg_dir("vision_msgs")
    assert vision_dir is not None, "vision_msgs is not installed (make ros)"
    store = output_typestore(types_from_dir(vision_dir, "vision_msgs", VISION_INPUT_TYPES))
    bags, ros = rosbags_types(store), rclpy_types()
    side = min(args.width, args.height)
    frame = scene_frame(seed=0, size=side, canvas=(args.width, args.height),
                        detections=args.detections)  # fmt: skip
    records = ground_truth_records(frame)
    source = header(ros, 10**9, "camera")
    image = serialize_message(image_message(ros, frame.rgb, source))
    detections = serialize_message(detections_message(ros, frame, source))

    def bags_take(raw: bytes, typename: str) -> object:
        return store.deserialize_cdr(bytes(memoryview(raw)), typename)  # a raw take's new bytes

    def bags_masks() -> bytes:
        message = amodal_mask_array(bags, copy_header(bags, source), records)
        return bytes(store.serialize_cdr(message, MASKS))  # Publisher.publish takes bytes

    groups = {
        "image_in": {
            "rclpy": lambda: image_to_rgb(deserialize_message(image, Image)),
            "rosbags": lambda: image_to_rgb(bags_take(image, IMAGE)),
        },
        "detections_in": {
            "rclpy": lambda: detections_to_prompts(deserialize_message(detections,
                                                                       Detection2DArray)),
            "rosbags": lambda: detections_to_prompts(bags_take(detections, DETECTIONS)),
        },
        "masks_out": {
            "rclpy": lambda: serialize_message(amodal_mask_array(ros, source, records)),
            "rosbags": bags_masks,
        },
    }  # fmt: skip
    masks = serialize_message(amodal_mask_array(ros, source, records))
    figures: dict[str, object] = {
        "image": f"{args.width}x{args.height}", "detections": args.detections,
        "image_bytes": len(image), "detections_bytes": len(detections), "masks_bytes": len(masks),
        **machine(),
    }  # fmt: skip
    totals = {"rclpy": 0.0, "rosbags": 0.0}
    for group, ways in groups.items():
        for name, ms in compare(ways, args.rounds, args.calls).items():
            figures[f"{group}_{name}_ms"] = ms
            totals[name] += ms
    figures.update({f"per_frame_{name}_ms": ms for name, ms in totals.items()})
    figures["per_frame_rclpy_minus_rosbags_ms"] = totals["rclpy"] - totals["rosbags"]
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
