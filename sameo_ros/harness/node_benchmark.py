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
run (BENCHMARKS.md, "ROS node"). `--library-threads 2` (repeatable) adds an arm `library_t2` that
runs the same frames through the library's predictor in this process on 2 torch threads
(`set_image` + `predict`, what the node reports as `model_ms`), in the same rotation while the
nodes are idle: the node-vs-library model time, side by side. The library arm runs in this
process's main thread, as a script calls it; `2w` runs it in a long-lived worker thread instead,
as the node runs its model (arm `library_t2w`).

Each frame is another procedural scene (the boxes of a new set of objects every frame: with
tracking, the previous frame's tracks are re-prompted every frame); with `--static-scene` every
frame is the same crowded scene of `--detections` distinct objects
(`synthetic_frames.crowded_frame`), as a still camera sees it, so that each object keeps its
track: the tracker's cost per frame with that many live tracks (`tracker_ms` in the figures;
`--arm on:tracking=true --arm off:tracking=false` sets it beside a node without tracking).
Independent scenes are no video, so there the nodes run with `tracking: false` unless an arm
sets it; with `--static-scene` they run with the node's default, tracking on.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import yaml

from sameo_core.tools import cli
from sameo_ros.params import PARAMETERS, config_from_values
from sameo_ros.pipeline import build_predictor, stage_seconds

from .figures import machine, report
from .node_session import (
    Arm,
    FrameTiming,
    LibraryArm,
    add_frame_arguments,
    add_node_arguments,
    model_label,
    node_parameters,
    nodes_and_clients,
    stream,
)
from .synthetic_frames import Frame, crowded_frame, scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_node_arguments(p)
    add_frame_arguments(p, width=640, height=480)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--static-scene", action="store_true",
                   help="every frame the same scene of --detections objects (a still camera: "
                   "they keep their tracks)")
    p.add_argument("--arm", action="append", default=[], metavar="LABEL[:name=value,...]",
                   help="a node to compare, with parameter overrides (repeatable)")
    p.add_argument("--arm-env", action="append", default=[], metavar="LABEL:VAR=VALUE",
                   help="an environment variable of one arm's node (repeatable)")
    p.add_argument("--library-threads", action="append", type=_library_spec, default=[],
                   metavar="N[w]", help="also time the library predictor in this process on N "
                   "torch threads, in the main thread (N) or a worker thread (Nw); repeatable")
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


def _library_spec(text: str) -> tuple[int, bool]:
    """N or Nw: torch threads, and whether the predictor runs in a worker thread."""
    worker = text.endswith("w")
    threads = int(text[:-1] if worker else text)
    if threads < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {text!r}")
    return threads, worker


def library_arm(parameters: dict[str, object], threads: int, worker: bool = False) -> LibraryArm:
    """The library's predictor, built as the node builds it from `parameters`, timed on a frame
    on `threads` torch threads: set_image + predict (the node's model_ms) and its stage times;
    with `worker` in one long-lived worker thread (the node's model runs in one), else in the
    calling thread."""
    config = config_from_values({k: v for k, v in parameters.items() if k in PARAMETERS})
    predictor = build_predictor(config)
    nan = float("nan")
    pool = ThreadPoolExecutor(max_workers=1) if worker else None

    def run(frame: Frame, stamp: int) -> FrameTiming:
        torch.set_num_threads(threads)
        started = time.perf_counter()
        predictor.set_image(frame.rgb)
        prediction = predictor.predict(frame.boxes, frame.scores)
        model_ms = (time.perf_counter() - started) * 1000.0
        ms = {k: v * 1000.0 for k, v in stage_seconds(prediction).items()}
        return FrameTiming(
            stamp, nan, model_ms, ms["encoder"], ms["decoder"], ms["postprocess"], nan, nan,
            nan, nan, nan, len(prediction.masks), nan, nan,
        )  # fmt: skip

    if pool is None:
        return run
    return lambda frame, stamp: pool.submit(run, frame, stamp).result()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    base = {"tracking": args.static_scene, **node_parameters(args)}  # module docstring
    arms = arms_from_args(args, base)
    side = min(args.width, args.height)
    count = args.warmup + args.frames
    if args.static_scene:
        frames = [crowded_frame(0, args.detections, (args.width, args.height))] * count
    else:
        frames = [scene_frame(seed=k, size=side, canvas=(args.width, args.height),
                              detections=args.detections) for k in range(count)]  # fmt: skip
    parameters = node_parameters(args)
    library = {f"library_t{n}{'w' if worker else ''}": library_arm(parameters, n, worker)
               for n, worker in args.library_threads}  # fmt: skip
    with nodes_and_clients(arms) as clients:
        stream(clients, frames[: args.warmup], timeout=args.timeout, library=library)
        timed = stream(clients, frames[args.warmup :], args.timeout, first_stamp=10**12,
                       library=library)  # fmt: skip
    figures: dict[str, object] = {
        "model": model_label(args),
        "device": args.device, "dtype": args.dtype, "image": f"{args.width}x{args.height}",
        "detections": args.detections, "chunk_size": args.chunk_size,
        "static_scene": args.static_scene, **machine(),
    }  # fmt: skip
    for label, stream_report in timed.items():
        arm_figures = stream_report.figures()
        if len(timed) == 1:
            figures.update(arm_figures)
        else:
            figures.update({f"{label}/{k}": v for k, v in arm_figures.items()})
    for label in library:  # the node-vs-library ratios of the model time, p50
        for arm in arms if len(timed) > 1 else ():
            ratio = figures[f"{arm.label}/model_ms_p50"] / figures[f"{label}/model_ms_p50"]
            figures[f"{arm.label}/model_ms_p50 / {label}"] = ratio
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
