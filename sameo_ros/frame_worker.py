"""The inference thread: serves the cameras' newest items (latest.NewestFrames) in turn, and
never dies silently.

Each take is one camera's item, or, with `batch`, every camera's waiting item at once (the
encoder then runs them as one batch). A failing take is reported to `on_error` and dropped, and
the next one is served. Should the loop itself end with an exception anyway (a bug outside the
per-take guard), `on_exit` gets the error, so that the node can report ERROR on /diagnostics and
exit non-zero for a supervisor to restart it, instead of staying up without answering (README,
"ROS 2 node").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .latest import NewestFrames

T = TypeVar("T")
Batch = list[tuple[int, T]]  # (camera index, item) pairs


class FrameWorker(Generic[T]):
    def __init__(
        self,
        frames: NewestFrames[T],
        serve: Callable[[Batch], None],
        on_error: Callable[[Batch, Exception], None],
        on_exit: Callable[[BaseException], None],
        batch: bool = False,
        name: str = "sameo_worker",
    ) -> None:
        self._frames = frames
        self._serve = serve
        self._on_error = on_error
        self._on_exit = on_exit
        self._batch = batch
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def busy(self) -> bool:
        """True while items are being served."""
        return self._busy.is_set()

    def stop(self, timeout: float) -> bool:
        """Serve no more items; wait up to `timeout` s for those in progress. True if the
        thread has ended."""
        self._frames.close()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._frames.closed:
                taken = self._frames.take(timeout=0.5, batch=self._batch)
                if not taken:
                    continue
                self._busy.set()
                try:
                    self._serve(taken)
                except Exception as error:  # a bad frame must never end the worker
                    self._on_error(taken, error)
                finally:
                    self._busy.clear()
        except BaseException as error:
            self._on_exit(error)
