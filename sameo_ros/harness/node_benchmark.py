"""Node end-to-end latency: 640x480 frames with 20 detections through a real sameo_node over DDS.

  python -m sameo_ros.benchmark [--checkpoint C | --variant vitt] --json out/ros_benchmark.json

Latency = the client publishes the serialized image and detections -> it takes the serialized
AmodalMaskArray from DDS (one frame in flight, after warm-up frames). Model time comes from the
node's FrameStats of the same frame; everything else in the latency (DDS transport both ways, the
node's deserialization, conversion, visibility estimate, message building and serialization) is
"outside the model". The client's own serialization of the inputs (a camera driver's and a
detector's work) and deserialization of the answer (the subscriber's) are timed separately and
also reported added to it.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch

from .report import report
from .scene import scene_frame
from .session import node_and_client, stream


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="SAMEO checkpoint (default: random --variant)")
    p.add_argument("--variant", default="vitt")
    p.add_argument("--device", default="cpu")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--detections", type=int, default=20)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--chunk-size", type=int, default=4)
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    parameters: dict[str, object] = {
        "device": args.device,
        "max_detections": args.detections,
        "chunk_size": args.chunk_size,
        "debug_image": False,
    }
    if args.checkpoint is not None:
        parameters["checkpoint"] = str(args.checkpoint.resolve())
    else:
        parameters["variant"] = args.variant
    side = min(args.width, args.height)
    frames = [
        scene_frame(
            seed=k, size=side, canvas=(args.width, args.height), detections=args.detections
        )
        for k in range(args.warmup + args.frames)
    ]
    with node_and_client(parameters) as client:
        stream(client, frames[: args.warmup], timeout=300.0)
        timed = stream(client, frames[args.warmup :], timeout=300.0, first_stamp=10**12)
    figures = timed.figures()
    figures.update(
        model=str(args.checkpoint or f"{args.variant} (random weights)"),
        device=args.device,
        image=f"{args.width}x{args.height}",
        detections=args.detections,
        chunk_size=args.chunk_size,
        torch=torch.__version__,
        cpus=os.cpu_count(),
        machine=platform.processor() or platform.machine(),
        load_average=os.getloadavg()[0],
    )
    report(figures, args.json)


if __name__ == "__main__":
    main()
