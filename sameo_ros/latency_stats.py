"""Sliding-window latency percentiles and frame rate of the processed frames."""

from __future__ import annotations

import time
from collections import deque

import numpy as np


class FrameRateStats:
    """Total per-frame latency (ms) and completion times of the last `window` frames."""

    def __init__(self, window: int) -> None:
        self._latency_ms: deque[float] = deque(maxlen=window)
        self._done_at: deque[float] = deque(maxlen=window)
        self.frames = 0

    def add(self, latency_ms: float, done_at: float | None = None) -> None:
        self._latency_ms.append(latency_ms)
        self._done_at.append(time.monotonic() if done_at is None else done_at)
        self.frames += 1

    def percentile(self, q: float) -> float:
        """q-th percentile of the window's latencies (NaN before the first frame)."""
        if not self._latency_ms:
            return float("nan")
        return float(np.percentile(np.asarray(self._latency_ms), q))

    @property
    def fps(self) -> float:
        """Frames per second over the window (NaN with fewer than two frames)."""
        if len(self._done_at) < 2 or self._done_at[-1] <= self._done_at[0]:
            return float("nan")
        return (len(self._done_at) - 1) / (self._done_at[-1] - self._done_at[0])

    def summary(self) -> str:
        return (
            f"{self.frames} frames, {self.fps:.2f} fps, latency p50 {self.percentile(50):.1f} ms "
            f"p99 {self.percentile(99):.1f} ms"
        )
