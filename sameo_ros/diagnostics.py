"""The health of each camera of the node as a diagnostic_msgs/DiagnosticStatus level, message and
key/values.

ROS-free: once per period the node fills one `Health` snapshot per camera (the node's state,
device and errors, and that camera's counters and figures) and publishes what that camera's
`HealthMonitor.assess` makes of it on /diagnostics, one status per camera. Levels and thresholds
(README, "ROS 2 node"):

- ERROR: the inference worker has ended (the node then exits non-zero), or the last configure
  failed (bad parameters or checkpoint; the managed node stays unconfigured).
- WARN, judged on the last period: frames of the camera were skipped (undecodable, refused or
  invalid input, a failing step; the log says why), or at least `unpaired_warn_share` of its
  detection arrays found no image within sync_slop, or the node is active but no
  image/detections pair has come from the camera for `input_timeout_s` (a stale camera: 5 s,
  many frames of any camera running at 1 Hz or more, and more than a frame's time on a CPU).
- OK otherwise, including unconfigured and inactive (the message names the state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels


@dataclass(frozen=True)
class Thresholds:
    unpaired_warn_share: float = 0.1  # of the detection arrays received in the period
    input_timeout_s: float = 5.0  # a camera without a pair for longer is stale


@dataclass(frozen=True)
class Counters:
    """Totals since the node started."""

    frames: int = 0  # answered
    skipped: int = 0  # failed and dropped
    pairs_dropped: int = 0  # replaced by a newer pair before the worker took them
    detections_received: int = 0
    detections_unpaired: int = 0


@dataclass(frozen=True)
class Health:
    state: str  # lifecycle state: unconfigured, inactive, active
    counters: Counters
    fps: float = math.nan
    latency_ms_p50: float = math.nan
    latency_ms_p99: float = math.nan
    seconds_since_pair: float = 0.0  # since the last pair, or since activation
    device: str = ""
    model_bytes: int = 0
    cuda_allocated_bytes: int | None = None  # None off CUDA
    worker_error: str | None = None
    configure_error: str | None = None


@dataclass(frozen=True)
class Assessment:
    level: int
    message: str
    values: list[tuple[str, str]]


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


class HealthMonitor:
    """Turns snapshots into assessments; WARN conditions look at the counts since the previous
    snapshot."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._previous = Counters()

    def assess(self, health: Health) -> Assessment:
        now, before = health.counters, self._previous
        self._previous = now
        skipped = now.skipped - before.skipped
        received = now.detections_received - before.detections_received
        unpaired = now.detections_unpaired - before.detections_unpaired
        level, message = OK, health.state
        if health.worker_error is not None:
            level, message = ERROR, f"inference worker ended: {health.worker_error}"
        elif health.configure_error is not None:
            level, message = ERROR, f"configure failed: {health.configure_error}"
        elif health.state == "active":
            level, message = self._active(health, skipped, received, unpaired)
        values = [
            ("state", health.state),
            ("frames processed", str(now.frames)),
            ("frames skipped", str(now.skipped)),
            ("rate (fps)", f"{health.fps:.2f}"),
            ("latency p50 (ms)", f"{health.latency_ms_p50:.1f}"),
            ("latency p99 (ms)", f"{health.latency_ms_p99:.1f}"),
            ("pairs dropped", str(now.pairs_dropped)),
            ("detections received", str(now.detections_received)),
            ("detections unpaired", str(now.detections_unpaired)),
            ("device", health.device),
            ("model memory (MiB)", _mib(health.model_bytes)),
        ]
        if health.cuda_allocated_bytes is not None:
            values.append(("cuda memory allocated (MiB)", _mib(health.cuda_allocated_bytes)))
        return Assessment(level, message, values)

    def _active(
        self, health: Health, skipped: int, received: int, unpaired: int
    ) -> tuple[int, str]:
        t = self.thresholds
        if skipped:
            return WARN, f"{skipped} frames skipped since the last report (see the node's log)"
        if received and unpaired >= t.unpaired_warn_share * received:
            return WARN, f"{unpaired} of {received} detection arrays found no image"
        if health.seconds_since_pair > t.input_timeout_s:
            return WARN, f"no image/detections pair for more than {t.input_timeout_s:g} s"
        return OK, f"active: {health.fps:.2f} fps, latency p50 {health.latency_ms_p50:.0f} ms"
