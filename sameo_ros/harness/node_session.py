"""A sameo_node process plus a SameoClient in this process: the demo's and benchmark's setup.

Starts the node from the colcon workspace (`make ros`) with config/sameo.yaml and overrides, on a
private ROS domain kept on the loopback interface, and streams frames through it one at a time.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .allocator import keep_large_buffers
from .process import DEFAULT_INSTALL, activate_isolated_workspace, start_configured_node, stop_node
from .scene import Frame


@dataclass
class FrameTiming:
    """One frame: client-measured latency and the node's FrameStats parts (milliseconds)."""

    stamp: int
    latency_ms: float  # client publishes the inputs -> takes the AmodalMaskArray bytes from DDS
    model_ms: float
    queue_ms: float  # pair complete -> the worker takes it
    convert_ms: float
    build_ms: float
    publish_ms: float
    node_ms: float  # node: pair complete -> published
    masks: int
    client_encode_ms: float  # serializing the inputs in the client (camera and detector work)
    client_decode_ms: float  # deserializing the AmodalMaskArray in the client (subscriber work)

    @property
    def transport_ms(self) -> float:
        """Client publish -> pair complete in the node (DDS, taking the bytes, callbacks), plus
        masks published -> the client takes them: DDS both ways."""
        return self.latency_ms - self.node_ms


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


@dataclass
class StreamReport:
    timings: list[FrameTiming] = field(default_factory=list)
    lost: int = 0  # frames never answered within the timeout

    def figures(self) -> dict[str, float]:
        t = self.timings
        latency = [x.latency_ms for x in t]
        outside = [x.latency_ms - x.model_ms for x in t]
        client = [x.client_encode_ms + x.client_decode_ms for x in t]
        return {
            "frames": len(t), "lost": self.lost,
            "latency_ms_p50": _p(latency, 50), "latency_ms_p99": _p(latency, 99),
            "model_ms_p50": _p([x.model_ms for x in t], 50),
            "outside_model_ms_p50": _p(outside, 50), "outside_model_ms_p99": _p(outside, 99),
            "outside_model_share_of_model_p50": _p([o / x.model_ms for o, x in zip(outside, t)],
                                                    50),
            "queue_ms_p50": _p([x.queue_ms for x in t], 50),
            "convert_ms_p50": _p([x.convert_ms for x in t], 50),
            "build_ms_p50": _p([x.build_ms for x in t], 50),
            "publish_ms_p50": _p([x.publish_ms for x in t], 50),
            "transport_ms_p50": _p([x.transport_ms for x in t], 50),
            "client_encode_ms_p50": _p([x.client_encode_ms for x in t], 50),
            "client_decode_ms_p50": _p([x.client_decode_ms for x in t], 50),
            "outside_model_share_with_client_serialization_p50": _p(
                [(o + c) / x.model_ms for o, c, x in zip(outside, client, t)], 50),
            "fps_one_in_flight": 1000.0 / float(np.mean(latency)),
            "masks_per_frame": float(np.mean([x.masks for x in t])),
        }  # fmt: skip


@contextlib.contextmanager
def node_and_client(
    parameters: dict[str, object],
    log_dir: Path | None = None,
    debug_image: bool = False,
    install: Path = DEFAULT_INSTALL,
    startup_timeout: float = 120.0,
) -> Iterator:
    """Yields a SameoClient talking to a fresh sameo_node started with `parameters`."""
    env = activate_isolated_workspace(install)
    import rclpy

    from .client import SameoClient

    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="sameo_node_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "sameo_node.log"
    # Reliable input: frames go one at a time and must not be lost (no resends to time).
    parameters = {"qos_reliability": "reliable", **parameters}
    process = start_configured_node(env, log, parameters, install)
    keep_large_buffers()  # the client moves images too (see allocator.py)
    rclpy.init()
    client = SameoClient(image_reliability="reliable", debug_image=debug_image)
    try:
        if not client.wait_for_node(startup_timeout):
            raise RuntimeError(f"sameo_node did not come up; see {log}")
        yield client
    finally:
        client.close()
        rclpy.shutdown()
        code = stop_node(process)
        if code != 0:
            print(f"sameo_node exited with {code}; log: {log}")


def stream(client, frames: list[Frame], timeout: float, first_stamp: int = 10**9) -> StreamReport:
    """Send frames one at a time (each after the previous answer) and time them."""
    report = StreamReport()
    for k, frame in enumerate(frames):
        stamp = first_stamp + k * 10**8
        if client.request(frame, stamp, timeout) is None:
            report.lost += 1
            continue
        deadline = time.monotonic() + 5.0
        while stamp not in client.received.stats and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = client.received.stats.get(stamp)
        if stats is None:
            report.lost += 1
            continue
        latency_ms = client.latency_s(stamp) * 1000.0
        report.timings.append(FrameTiming(
            stamp, latency_ms, stats.model_ms, stats.queue_ms, stats.convert_ms, stats.build_ms,
            stats.publish_ms, stats.total_ms, stats.masks, client.encode_ms[stamp],
            client.received.masks_decode_ms[stamp],
        ))  # fmt: skip
    return report
