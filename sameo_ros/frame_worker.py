"""The inference thread: serves the newest item of a LatestSlot, one at a time, and never dies
silently.

A failing item is reported to `on_error` and dropped, and the next item is served. Should the
loop itself end with an exception anyway (a bug outside the per-item guard), `on_exit` gets the
error, so that the node can report ERROR on /diagnostics and exit non-zero for a supervisor to
restart it, instead of staying up without answering (README, "ROS 2 node").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .latest import LatestSlot

T = TypeVar("T")


class FrameWorker(Generic[T]):
    def __init__(
        self,
        slot: LatestSlot[T],
        serve: Callable[[T], None],
        on_error: Callable[[T, Exception], None],
        on_exit: Callable[[BaseException], None],
        name: str = "sameo_worker",
    ) -> None:
        self._slot = slot
        self._serve = serve
        self._on_error = on_error
        self._on_exit = on_exit
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def busy(self) -> bool:
        """True while an item is being served."""
        return self._busy.is_set()

    def stop(self, timeout: float) -> bool:
        """Serve no more items; wait up to `timeout` s for the one in progress. True if the
        thread has ended."""
        self._slot.close()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._slot.closed:
                item = self._slot.take(timeout=0.5)
                if item is None:
                    continue
                self._busy.set()
                try:
                    self._serve(item)
                except Exception as error:  # a bad frame must never end the worker
                    self._on_error(item, error)
                finally:
                    self._busy.clear()
        except BaseException as error:
            self._on_exit(error)
