"""Per-frame message costs of sameo_node, three ways side by side: rclpy, rosbags, frame_cdr.

  python -m sameo_ros.bench_wire [--detections 20] [--width 640 --height 480] \
      [--json out/bench_wire.json]

For one synthetic frame: taking the Detection2DArray (deserialize + read the prompts), the Image
(deserialize), and producing the AmodalMaskArray bytes (masks = the scene's true amodal masks
cropped to their boxes, as the node publishes them). Each way is timed in alternating rounds; the
figures are medians in milliseconds. Needs the colcon-built workspace (`make ros`) for rclpy.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sameo_core.geometry import RoiMask

from .pipeline import FrameResult, MaskRecord
from .report import report
from .scene import Frame, scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--detections", type=int, default=20)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--calls", type=int, default=20, help="calls per round")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def ground_truth_result(frame: Frame) -> FrameResult:
    """A FrameResult whose masks are the frame's true amodal masks, cropped like the node's."""
    records = []
    for k, (amodal, visible) in enumerate(zip(frame.amodal, frame.visible)):
        roi = RoiMask.from_full(amodal)
        records.append(MaskRecord(
            id=frame.ids[k], class_id=frame.class_ids[k], detector_score=float(frame.scores[k]),
            score=0.9, iou=0.9, prompt_box=frame.boxes[k], amodal_box=roi.box(),
            offset=roi.offset, mask=roi.mask, visible=roi.crop(visible),
            visible_fraction=float(visible.sum() / amodal.sum()),
        ))  # fmt: skip
    return FrameResult(frame.rgb, records)


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
    from .process import activate_isolated_workspace

    activate_isolated_workspace()
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from sameo_ros.msg import AmodalMaskArray

    from .conversions import detections_to_prompts
    from .frame_cdr import decode_detections, decode_image, encode_amodal_mask_array
    from .frame_messages import detections_message, header_at, image_message
    from .messages import amodal_mask_array, copy_header
    from .wire import DETECTIONS, IMAGE, WireCodec

    side = min(args.width, args.height)
    frame = scene_frame(seed=0, size=side, canvas=(args.width, args.height),
                        detections=args.detections)  # fmt: skip
    codec = WireCodec.from_installed()
    header = header_at(codec.typestore, 10**9)
    detections = codec.encode(detections_message(codec.typestore, frame, header))
    image = codec.encode(image_message(codec.typestore, frame.rgb, header))
    result = ground_truth_result(frame)
    masks = encode_amodal_mask_array(header, result)
    rclpy_masks = deserialize_message(masks, AmodalMaskArray)
    types = codec.types

    def rosbags_masks() -> bytes:
        return codec.encode(amodal_mask_array(types, copy_header(types, header), result))

    groups = {
        "detections_in": {
            "rclpy": lambda: detections_to_prompts(
                deserialize_message(detections, Detection2DArray)
            ),
            "rosbags": lambda: detections_to_prompts(codec.decode(detections, DETECTIONS)),
            "frame_cdr": lambda: decode_detections(detections),
        },
        "image_in": {
            "rclpy": lambda: deserialize_message(image, Image),
            "rosbags": lambda: codec.decode(image, IMAGE),
            "frame_cdr": lambda: decode_image(image, types),
        },
        "masks_out": {
            "rclpy_serialize_only": lambda: serialize_message(rclpy_masks),
            "rosbags": rosbags_masks,
            "frame_cdr": lambda: encode_amodal_mask_array(header, result),
        },
    }
    figures: dict[str, object] = {
        "image": f"{args.width}x{args.height}", "detections": args.detections,
        "detections_bytes": len(detections), "image_bytes": len(image), "masks_bytes": len(masks),
    }  # fmt: skip
    for group, ways in groups.items():
        for name, ms in compare(ways, args.rounds, args.calls).items():
            figures[f"{group}_{name}_ms"] = ms
    report(figures, args.json)


if __name__ == "__main__":
    main()
