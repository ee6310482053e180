"""The `segment` service: first call on an image vs a repeated call with new boxes on it.

  python -m sameo_ros.harness.service_benchmark [--checkpoint C | --variant vitt] \
      [--width 1280 --height 720] [--detections 20] [--rounds 5] --json out/service.json

Each round sends a new image with N boxes (the node encodes the image, then decodes the boxes),
then the same image with N new boxes (the node finds the image encoded already and runs the mask
decoder only). Times are the client's round trips of the service calls over DDS, request
serialization and response deserialization included; figures are medians over the rounds
(BENCHMARKS.md, "ROS node").
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from sameo_core.tools import cli

from .figures import machine, report
from .node_session import (
    add_frame_arguments,
    add_node_arguments,
    model_label,
    node_and_client,
    node_parameters,
)
from .synthetic_frames import scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_node_arguments(p)
    add_frame_arguments(p, width=1280, height=720)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    parameters = node_parameters(args)
    rng = np.random.default_rng(0)
    side = min(args.width, args.height)
    first, repeat = [], []
    with node_and_client(parameters) as client:
        for k in range(args.rounds + 1):  # round 0 warms up
            frame = scene_frame(seed=k, size=side, canvas=(args.width, args.height),
                                detections=args.detections)  # fmt: skip
            moved = dataclasses.replace(
                frame, boxes=frame.boxes + rng.integers(-4, 5, frame.boxes.shape)
            )
            stamp = (k + 1) * 10**9
            for times, shown in ((first, frame), (repeat, moved)):  # same image, same stamp
                request = client.segment_request(shown, stamp)
                started = time.monotonic()
                response = client.call_segment(request, args.timeout)
                elapsed_ms = (time.monotonic() - started) * 1000.0
                if response is None or response.error:
                    raise RuntimeError(f"segment call failed: {response and response.error}")
                if len(response.masks.masks) != args.detections:
                    raise RuntimeError(f"{len(response.masks.masks)} masks, not {args.detections}")
                if k:
                    times.append(elapsed_ms)
    first_ms, repeat_ms = statistics.median(first), statistics.median(repeat)
    figures: dict[str, object] = {
        "model": model_label(args),
        "device": args.device, "image": f"{args.width}x{args.height}",
        "detections": args.detections, "rounds": args.rounds, **machine(),
        "first_call_ms_p50": first_ms, "repeat_call_ms_p50": repeat_ms,
        "first_call_ms": first, "repeat_call_ms": repeat,
        "speedup_repeat_vs_first": first_ms / repeat_ms,
    }  # fmt: skip
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
