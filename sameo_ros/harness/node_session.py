"""sameo_node processes plus SameoClients in this process: the demo's and benchmarks' setup.

Starts nodes from the colcon workspace (`make ros`) on a private ROS domain kept on the loopback
interface, and streams frames through them one at a time. Several nodes ("arms", each in its own
namespace, with its own parameters and environment) can run side by side, and `stream` then
sends every frame to each arm in turn, so that they are compared in one run on the same frames.
"""

from __future__ import annotations

import argparse
import contextlib
import string
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .node_process import DEFAULT_INSTALL, activate_isolated_workspace, start_node, stop_node
from .synthetic_frames import Frame


def add_frame_arguments(p: argparse.ArgumentParser, width: int, height: int) -> None:
    """--detections, --width, --height of the synthetic frames (synthetic_frames.scene_frame)."""
    p.add_argument("--detections", type=int, default=20)
    p.add_argument("--width", type=int, default=width)
    p.add_argument("--height", type=int, default=height)


def add_node_arguments(p: argparse.ArgumentParser) -> None:
    """The model and inference options of a benchmarked node (see node_parameters)."""
    p.add_argument("--checkpoint", type=Path, help="SAMEO checkpoint (default: random --variant)")
    p.add_argument("--variant", default="vitt")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", help="float32, or bfloat16/float16 on cuda")
    p.add_argument("--chunk-size", type=_chunk_size, default="auto",
                   help="auto (the node's default) or a number")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="the node's torch_threads (default: the node's own default)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one frame")


def _chunk_size(text: str) -> int | str:
    return text if text == "auto" else int(text)


def node_parameters(args: argparse.Namespace) -> dict[str, object]:
    """sameo_node parameters of add_node_arguments' options (and --detections), no overlay."""
    parameters: dict[str, object] = {
        "device": args.device, "dtype": args.dtype, "max_detections": args.detections,
        "chunk_size": args.chunk_size, "debug_image": False,
    }  # fmt: skip
    if args.torch_threads is not None:
        parameters["torch_threads"] = args.torch_threads
    if args.checkpoint is not None:
        parameters["checkpoint"] = str(args.checkpoint.resolve())
    else:
        parameters["variant"] = args.variant
    return parameters


def model_label(args: argparse.Namespace) -> str:
    return str(args.checkpoint or f"{args.variant} (random weights)")


@dataclass(frozen=True)
class Arm:
    """One node of a comparison: a label, its parameters and environment overrides (`$VAR` in
    a value is the workspace environment's VAR, e.g. PYTHONPATH=/elsewhere:$PYTHONPATH)."""

    label: str
    parameters: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class FrameTiming:
    """One frame: client-measured latency and the node's FrameStats parts (milliseconds)."""

    stamp: int
    latency_ms: float  # client publishes the inputs -> takes the AmodalMaskArray bytes from DDS
    model_ms: float
    encoder_ms: float  # of model_ms (FrameStats)
    decoder_ms: float
    postprocess_ms: float
    queue_ms: float  # pair complete -> the worker takes it
    convert_ms: float
    build_ms: float
    publish_ms: float
    node_ms: float  # node: pair complete -> published
    masks: int
    client_encode_ms: float  # serializing the inputs in the client (camera and detector work)
    client_decode_ms: float  # deserializing the AmodalMaskArray in the client (subscriber work)
    tracker_ms: float = float("nan")  # the camera's tracker (FrameStats; 0 with tracking off)

    @property
    def transport_ms(self) -> float:
        """Client publish -> pair complete in the node (DDS, taking and deserializing the
        messages, callbacks), plus masks published -> the client takes them: DDS both ways."""
        return self.latency_ms - self.node_ms


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


@dataclass
class StreamReport:
    timings: list[FrameTiming] = field(default_factory=list)
    lost: int = 0  # frames never answered within the timeout

    def figures(self) -> dict[str, float]:
        t = self.timings
        latency = [x.latency_ms for x in t]
        outside = [x.latency_ms - x.model_ms for x in t]
        return {
            "frames": len(t), "lost": self.lost,
            "latency_ms_p50": _p(latency, 50), "latency_ms_p99": _p(latency, 99),
            "model_ms_p50": _p([x.model_ms for x in t], 50),
            "encoder_ms_p50": _p([x.encoder_ms for x in t], 50),
            "decoder_ms_p50": _p([x.decoder_ms for x in t], 50),
            "postprocess_ms_p50": _p([x.postprocess_ms for x in t], 50),
            "outside_model_ms_p50": _p(outside, 50), "outside_model_ms_p99": _p(outside, 99),
            "queue_ms_p50": _p([x.queue_ms for x in t], 50),
            "convert_ms_p50": _p([x.convert_ms for x in t], 50),
            "build_ms_p50": _p([x.build_ms for x in t], 50),
            "publish_ms_p50": _p([x.publish_ms for x in t], 50),
            "transport_ms_p50": _p([x.transport_ms for x in t], 50),
            "client_encode_ms_p50": _p([x.client_encode_ms for x in t], 50),
            "client_decode_ms_p50": _p([x.client_decode_ms for x in t], 50),
            "tracker_ms_p50": _p([x.tracker_ms for x in t], 50),
            "tracker_ms_p99": _p([x.tracker_ms for x in t], 99),
            "tracker_share_of_model_p50": _p([x.tracker_ms / x.model_ms for x in t
                                              if x.model_ms > 0], 50),
            "fps_one_in_flight": 1000.0 / float(np.mean(latency)) if t else float("nan"),
            # The stream's first frame (with --warmup 0, the node's first frame after start-up).
            "first_latency_ms": t[0].latency_ms if t else float("nan"),
            "first_model_ms": t[0].model_ms if t else float("nan"),
            "masks_per_frame": float(np.mean([x.masks for x in t])) if t else float("nan"),
        }  # fmt: skip


@contextlib.contextmanager
def nodes_and_clients(
    arms: list[Arm],
    log_dir: Path | None = None,
    debug_image: bool = False,
    install: Path = DEFAULT_INSTALL,
    startup_timeout: float = 180.0,
) -> Iterator[dict]:
    """Yields {label: SameoClient}, each talking to a fresh sameo_node of its arm.

    The nodes start with the node's declared defaults plus the arm's parameters (no parameter
    file, so that nodes of other versions take the same command line) and reliable input.
    """
    env = activate_isolated_workspace(install)
    import rclpy

    from .node_client import SameoClient

    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="sameo_node_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, logs = {}, {}
    for arm in arms:
        logs[arm.label] = log_dir / f"sameo_node_{arm.label}.log"
        # Reliable input: frames go one at a time and must not be lost (no resends to time).
        parameters = {"qos_reliability": "reliable", **arm.parameters}
        arm_env = {k: string.Template(v).safe_substitute(env) for k, v in arm.env.items()}
        processes[arm.label] = start_node(
            dict(env, **arm_env), logs[arm.label], install=install, parameters=parameters,
            remaps={"__ns": f"/{arm.label}"} if len(arms) > 1 else {"__ns": "/sameo"},
        )  # fmt: skip
    rclpy.init()
    clients = {
        arm.label: SameoClient(
            debug_image=debug_image, name=f"client_{arm.label}",
            namespace=f"/{arm.label}" if len(arms) > 1 else "/sameo",
        )  # fmt: skip
        for arm in arms
    }
    try:
        deadline = time.monotonic() + startup_timeout
        for label, client in clients.items():
            if not client.wait_for_node(max(deadline - time.monotonic(), 1.0)):
                raise RuntimeError(f"sameo_node {label} did not come up; see {logs[label]}")
        yield clients
    finally:
        for client in clients.values():
            client.close()
        rclpy.shutdown()
        for label, process in processes.items():
            code = stop_node(process)
            if code != 0:
                print(f"sameo_node {label} exited with {code}; log: {logs[label]}")


@contextlib.contextmanager
def node_and_client(parameters: dict[str, object], **options: object) -> Iterator:
    """One sameo_node in /sameo (see nodes_and_clients) and its client."""
    with nodes_and_clients([Arm("sameo", parameters)], **options) as clients:  # type: ignore[arg-type]
        yield clients["sameo"]


def _time_frame(client, frame: Frame, stamp: int, timeout: float) -> FrameTiming | None:
    if client.request(frame, stamp, timeout) is None:
        return None
    stats = client.wait_stats(stamp, 5.0)
    if stats is None:
        return None
    return FrameTiming(
        stamp, client.latency_s(stamp) * 1000.0, stats.model_ms, stats.encoder_ms,
        stats.decoder_ms, stats.postprocess_ms, stats.queue_ms, stats.convert_ms, stats.build_ms,
        stats.publish_ms, stats.total_ms, stats.masks, client.encode_ms[stamp],
        client.received.masks_decode_ms[stamp], stats.tracker_ms,
    )  # fmt: skip


LibraryArm = Callable[[Frame, int], "FrameTiming"]  # (frame, stamp) -> its timing


def stream(
    clients: dict, frames: list[Frame], timeout: float, first_stamp: int = 10**9,
    library: dict[str, LibraryArm] | None = None,
) -> dict[str, StreamReport]:  # fmt: skip
    """Send every frame to each client's node in turn (one frame in flight in all, the order of
    the arms rotating from frame to frame) and time them; `library` arms run the frame in this
    process instead (in the same rotation, while every node is idle)."""
    library = library or {}
    reports = {label: StreamReport() for label in [*clients, *library]}
    labels = list(reports)
    for k, frame in enumerate(frames):
        stamp = first_stamp + k * 10**8
        for label in labels[k % len(labels):] + labels[: k % len(labels)]:
            if label in library:
                timing = library[label](frame, stamp)
            else:
                timing = _time_frame(clients[label], frame, stamp, timeout)
            if timing is None:
                reports[label].lost += 1
            else:
                reports[label].timings.append(timing)
    return reports

