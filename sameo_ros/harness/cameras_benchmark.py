"""One sameo_node for N cameras against N nodes of one camera each: resident memory, frames per
second and latency per camera, side by side in one run (BENCHMARKS.md, "ROS node").

  python -m sameo_ros.harness.cameras_benchmark --checkpoint C [--cameras 3] [--rate 5] \
      [--seconds 30] [--rounds 2] [--width 640 --height 480 --detections 20] --json out.json

Each round runs the two setups one after the other (never at the same time): `one_node`, one
node with `cameras: [cam0, cam1, ...]`, and `n_nodes`, one node per camera (each in its own
namespace, unnamed camera). In both, every camera is a client in this process that publishes
its own frames (a procedural scene per camera, `--detections` boxes each) at `--rate` Hz for
`--seconds`, whatever the node answers; the nodes keep each camera's newest frame and drop the
rest. Per camera: answered frames per second, and the latency of each answered frame (publish
-> its AmodalMaskArray taken from DDS) p50/p99. Memory: each node process's resident set
(VmRSS) at the end of the round and its peak (VmHWM), summed over the setup's processes.

`--encoder-rounds R` also times, in this process, the image encoder on the cameras' frames
batched (`AmodalPredictor.set_images`, what one node does on CUDA with frames of several cameras
waiting) against one `set_image` per camera, R rounds each, alternating, p50 (device synchronised
on CUDA).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from sameo_core.tools import cli
from sameo_ros.params import PARAMETERS, config_from_values
from sameo_ros.pipeline import build_predictor

from .figures import machine, report
from .node_process import DEFAULT_INSTALL, activate_isolated_workspace, start_node, stop_node
from .node_session import add_frame_arguments, add_node_arguments, model_label, node_parameters
from .synthetic_frames import Frame, scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_node_arguments(p)
    add_frame_arguments(p, width=640, height=480)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--rate", type=float, default=5.0, help="frames per second of each camera")
    p.add_argument("--seconds", type=float, default=30.0, help="publishing time per setup")
    p.add_argument("--rounds", type=int, default=2,
                   help="one_node, n_nodes; repeated (0: the encoder figures only)")
    p.add_argument("--encoder-rounds", type=int, default=0,
                   help="also time the batched encoder against one per camera (rounds)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    if not 1 <= args.cameras <= 8 or args.rate <= 0 or args.seconds <= 0 or args.rounds < 0:
        p.error("--cameras 1-8, --rate > 0, --seconds > 0, --rounds >= 0")
    if args.encoder_rounds < 0 or not (args.rounds or args.encoder_rounds):
        p.error("--encoder-rounds >= 0, and --rounds or --encoder-rounds above 0")
    return args


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process `pid` in MB."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines())
    return tuple(int(fields[k].split()[0]) / 1024.0 for k in ("VmRSS", "VmHWM"))  # type: ignore


@contextlib.contextmanager
def _setup(kind: str, cameras: int, parameters: dict[str, object], log_dir: Path,
           timeout: float) -> Iterator[tuple[list, list]]:  # fmt: skip
    """(node processes, one SameoClient per camera) of `kind`: one_node or n_nodes."""
    env = activate_isolated_workspace(DEFAULT_INSTALL)
    from .node_client import SameoClient

    names = [f"cam{k}" for k in range(cameras)]
    processes, clients = [], []
    try:
        if kind == "one_node":
            processes.append(start_node(
                env, log_dir / f"{kind}.log", parameters={**parameters, "cameras": names},
                remaps={"__ns": "/one"},
            ))  # fmt: skip
            namespaces = [f"/one/{name}" for name in names]
        else:
            for name in names:
                processes.append(start_node(env, log_dir / f"{kind}_{name}.log",
                                            parameters=parameters, remaps={"__ns": f"/{name}"}))
            namespaces = [f"/{name}" for name in names]
        for name, namespace in zip(names, namespaces):
            clients.append(SameoClient(name=f"{kind}_{name}", namespace=namespace))
        deadline = time.monotonic() + timeout
        for client in clients:
            if not client.wait_for_node(max(deadline - time.monotonic(), 1.0)):
                raise RuntimeError(f"{kind}: a node did not come up; logs in {log_dir}")
        yield processes, clients
    finally:
        for client in clients:
            client.close()
        for process in processes:
            stop_node(process)


def _publish(client, frame: Frame, rate: float, seconds: float, first_stamp: int) -> list[int]:
    """Publish `frame` at `rate` Hz for `seconds` (new stamps); the stamps sent."""
    stamps, period = [], 1.0 / rate
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        stamp = first_stamp + len(stamps) * int(period * 1e9)
        client.send_frame(frame, stamp)
        stamps.append(stamp)
        time.sleep(max(started + len(stamps) * period - time.monotonic(), 0.0))
    return stamps


def _settle(clients: list, timeout: float, quiet: float = 1.0) -> None:
    """Wait until no client has received an answer for `quiet` s (at most `timeout` s)."""
    deadline = time.monotonic() + timeout
    counts = None
    while time.monotonic() < deadline:
        now = [len(c.received.masks) for c in clients]
        if now == counts:
            return
        counts = now
        time.sleep(quiet)


def run_setup(kind: str, args: argparse.Namespace, frames: list[Frame], log_dir: Path,
              first_stamp: int) -> dict[str, float]:  # fmt: skip
    parameters = {**node_parameters(args), "qos_reliability": "reliable"}
    with _setup(kind, args.cameras, parameters, log_dir, args.timeout) as (processes, clients):
        # Warm-up: one answered frame per camera before the clock starts.
        for k, (client, frame) in enumerate(zip(clients, frames)):
            if client.request(frame, first_stamp - (k + 1) * 10**9, args.timeout) is None:
                raise RuntimeError(f"{kind}: camera {k} got no answer; logs in {log_dir}")
        sent: list[list[int]] = [[] for _ in clients]
        threads = [threading.Thread(target=lambda k=k: sent[k].extend(_publish(
            clients[k], frames[k], args.rate, args.seconds, first_stamp)))
            for k in range(len(clients))]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        slowest = max((c.latency_s(t) for c in clients for t in c.received.masks
                       if t in c.sent_at), default=1.0)  # fmt: skip
        _settle(clients, args.timeout, quiet=max(1.0, 1.5 * slowest))  # the frames in flight
        memory = [memory_mb(p.pid) for p in processes]
        figures: dict[str, float] = {
            "rss_mb": sum(m[0] for m in memory), "peak_rss_mb": sum(m[1] for m in memory),
            "processes": len(processes),
        }  # fmt: skip
        for k, client in enumerate(clients):
            latency = [client.latency_s(s) * 1000.0 for s in sent[k] if s in client.received.masks]
            figures[f"cam{k}/fps"] = len(latency) / args.seconds
            figures[f"cam{k}/latency_ms_p50"] = float(np.percentile(latency, 50)) if latency \
                else float("nan")  # fmt: skip
            figures[f"cam{k}/latency_ms_p99"] = float(np.percentile(latency, 99)) if latency \
                else float("nan")  # fmt: skip
        p50 = [figures[f"cam{k}/latency_ms_p50"] for k in range(len(clients))]
        figures["p50_max_over_min"] = max(p50) / min(p50)
        return figures


def encoder_figures(args: argparse.Namespace, frames: list[Frame]) -> dict[str, float]:
    """The encoder on every camera's frame: one batched call against one call per camera."""
    config = config_from_values({k: v for k, v in node_parameters(args).items()
                                 if k in PARAMETERS})  # fmt: skip
    predictor = build_predictor(config)
    device = predictor.device

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - started) * 1000.0

    images = [frame.rgb for frame in frames]
    batched, sequential = [], []
    for r in range(args.encoder_rounds + 1):  # the first round warms up
        pair = [lambda: predictor.set_images(images),
                lambda: [predictor.set_image(image) for image in images]]
        order = pair if r % 2 else pair[::-1]
        times = [timed(call) for call in order]
        if r:
            b, q = (times if r % 2 else times[::-1])
            batched.append(b)
            sequential.append(q)
    b50, q50 = float(np.percentile(batched, 50)), float(np.percentile(sequential, 50))
    return {"encoder_batched_ms_p50": b50, "encoder_one_per_camera_ms_p50": q50,
            "encoder_speedup": q50 / b50}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    side = min(args.width, args.height)
    frames = [scene_frame(seed=100 + k, size=side, canvas=(args.width, args.height),
                          detections=args.detections) for k in range(args.cameras)]  # fmt: skip
    log_dir = Path(tempfile.mkdtemp(prefix="sameo_cameras_"))
    figures: dict[str, object] = {
        "model": model_label(args), "device": args.device, "image": f"{args.width}x{args.height}",
        "detections": args.detections, "cameras": args.cameras, "rate_hz": args.rate,
        "seconds": args.seconds, **machine(),
    }  # fmt: skip
    activate_isolated_workspace(DEFAULT_INSTALL)  # before rclpy: its domain and DDS profile
    import rclpy

    rclpy.init()
    try:
        for r in range(args.rounds):
            for kind in ("one_node", "n_nodes"):
                first_stamp = (1000 + 100 * (2 * r + (kind == "n_nodes"))) * 10**9
                result = run_setup(kind, args, frames, log_dir, first_stamp)
                figures.update({f"round{r}/{kind}/{k}": v for k, v in result.items()})
            one, many = (figures[f"round{r}/{kind}/rss_mb"] for kind in ("one_node", "n_nodes"))
            figures[f"round{r}/rss_one_over_n"] = one / many  # type: ignore[operator]
    finally:
        rclpy.shutdown()
    if args.encoder_rounds:
        figures.update(encoder_figures(args, frames))
    figures["load_average_end"] = machine()["load_average"]
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
