"""Node end-to-end latency: frames with N detections through real sameo_node processes over DDS.

  python -m sameo_ros.harness.node_benchmark [--checkpoint C | --variant vitt] \
      [--width 1280 --height 720] [--detections 20] [--frames 40] --json out/node_benchmark.json

Latency = the client publishes the serialized image and detections -> it takes the serialized
AmodalMaskArray from DDS (one frame in flight, after warm-up frames). Model time comes from the
node's FrameStats of the same frame; everything else in the latency (DDS transport both ways,
rclpy taking and deserializing the inputs, Image -> numpy and boxes, the visibility estimate,
building and publishing the AmodalMaskArray) is "outside the model". The client's own
serialization of the inputs (a camera driver's and a detector's work) and deserialization of the
answer (the subscriber's) are timed separately.

Side by side: each `--arm LABEL[:name=value,...]` starts one more node with those parameters (and
`--arm-env LABEL:VAR=VALUE` environment variables, e.g. PYTHONPATH for another version of the
node); every frame goes to each arm in turn, so the arms are compared on the same frames in one
run (BENCHMARKS.md, "ROS node").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from sameo_core.tools import cli

from .figures import machine, report
from .node_session import (
    Arm,
    add_frame_arguments,
    add_node_arguments,
    model_label,
    node_parameters,
    nodes_and_clients,
    stream,
)
from .synthetic_frames import scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_node_arguments(p)
    add_frame_arguments(p, width=640, height=480)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--arm", action="append", default=[], metavar="LABEL[:name=value,...]",
                   help="a node to compare, with parameter overrides (repeatable)")
    p.add_argument("--arm-env", action="append", default=[], metavar="LABEL:VAR=VALUE",
                   help="an environment variable of one arm's node (repeatable)")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)  # fmt: skip


def _assignments(text: str, separator: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(separator) if item]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"expected name=value items, got {text!r}")
    return dict(pairs)  # type: ignore[arg-type]


def arms_from_args(args: argparse.Namespace, base: dict[str, object]) -> list[Arm]:
    """The arms of the command line (one plain arm without --arm)."""
    parsed: dict[str, dict[str, object]] = {}
    for spec in args.arm or ["sameo"]:
        label, _, overrides = spec.partition(":")
        values = {k: yaml.safe_load(v) for k, v in _assignments(overrides, ",").items()}
        parsed[label] = {**base, **values}
    env: dict[str, dict[str, str]] = {label: {} for label in parsed}
    for spec in args.arm_env:
        label, _, assignment = spec.partition(":")
        if label not in env:
            raise ValueError(f"--arm-env {spec!r}: no --arm {label!r}")
        env[label].update(_assignments(assignment, "\n"))
    return [Arm(label, parameters, env[label]) for label, parameters in parsed.items()]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    arms = arms_from_args(args, node_parameters(args))
    side = min(args.width, args.height)
    frames = [
        scene_frame(
            seed=k, size=side, canvas=(args.width, args.height), detections=args.detections
        )
        for k in range(args.warmup + args.frames)
    ]
    with nodes_and_clients(arms) as clients:
        stream(clients, frames[: args.warmup], timeout=args.timeout)
        timed = stream(clients, frames[args.warmup :], args.timeout, first_stamp=10**12)
    figures: dict[str, object] = {
        "model": model_label(args),
        "device": args.device, "image": f"{args.width}x{args.height}",
        "detections": args.detections, "chunk_size": args.chunk_size, **machine(),
    }  # fmt: skip
    for arm in arms:
        arm_figures = timed[arm.label].figures()
        if len(arms) == 1:
            figures.update(arm_figures)
        else:
            figures.update({f"{arm.label}/{k}": v for k, v in arm_figures.items()})
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
