"""The hand-over between subscription callbacks and the inference worker: one newest-item slot
per camera, served round-robin.

`put` never blocks: a newer item replaces one the worker has not taken yet (counted as dropped
for that camera), so the worker always processes each camera's newest input and a slow model
never backs up a camera. `take` serves the cameras in turn, starting after the camera served
last: a camera that always has a frame waiting gets every other turn against one that has a
frame now and then, never all of them, so a fast camera cannot starve a slow one. With `batch`
it takes every waiting frame at once (in that same order), for an encoder that runs several
images in one pass.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestFrames(Generic[T]):
    """`sources` newest-item slots (one per camera, by index) and the round-robin turn."""

    def __init__(self, sources: int = 1) -> None:
        if sources < 1:
            raise ValueError(f"sources must be >= 1, got {sources}")
        self._items: list[T | None] = [None] * sources
        self._cond = threading.Condition()
        self._closed = False
        self._turn = 0  # the source looked at first by the next take
        self.dropped = [0] * sources  # per source: items replaced before the worker took them

    @property
    def sources(self) -> int:
        return len(self._items)

    def put(self, source: int, item: T) -> bool:
        """Store `item` as `source`'s newest; True when it replaced one nobody took (dropped)."""
        with self._cond:
            replaced = self._items[source] is not None
            self.dropped[source] += replaced
            self._items[source] = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None, batch: bool = False) -> list[tuple[int, T]]:
        """[(source, item)]: the next waiting source's item in round-robin order, or with
        `batch` every waiting item in that order; waits up to `timeout` s for one. [] on
        timeout or after close()."""
        with self._cond:
            self._cond.wait_for(self._ready, timeout)
            if self._closed:
                return []
            n = len(self._items)
            order = [(self._turn + k) % n for k in range(n)]
            waiting = [s for s in order if self._items[s] is not None]
            chosen = waiting if batch else waiting[:1]
            taken = [(s, self._items[s]) for s in chosen]
            for s in chosen:
                self._items[s] = None
            if chosen:
                self._turn = (chosen[-1] + 1) % n
            return taken  # type: ignore[return-value]

    def _ready(self) -> bool:
        return self._closed or any(item is not None for item in self._items)

    def close(self) -> None:
        """Wake the worker for shutdown; later takes return [] at once."""
        with self._cond:
            self._closed = True
            self._items = [None] * len(self._items)
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
