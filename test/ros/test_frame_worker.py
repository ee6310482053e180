"""The inference thread serves the newest item, survives failing items and reports its end."""

from __future__ import annotations

import threading

from sameo_ros.frame_worker import FrameWorker
from sameo_ros.latest import LatestSlot


def _worker(serve, on_exit=None):
    slot: LatestSlot[int] = LatestSlot()
    errors: list[tuple[int, Exception]] = []
    ended: list[BaseException] = []
    worker = FrameWorker(slot, serve, lambda item, e: errors.append((item, e)),
                         on_exit or ended.append)  # fmt: skip
    worker.start()
    return slot, worker, errors, ended


def test_a_failing_item_is_reported_and_the_next_one_served() -> None:
    served, done = [], threading.Event()

    def serve(item: int) -> None:
        if item == 1:
            raise ValueError("bad frame")
        served.append(item)
        done.set()

    slot, worker, errors, ended = _worker(serve)
    slot.put(1)
    while not errors:
        threading.Event().wait(0.01)
    slot.put(2)
    assert done.wait(5.0)
    assert served == [2] and errors[0][0] == 1 and str(errors[0][1]) == "bad frame"
    assert worker.stop(5.0) and not ended and not worker.alive


def test_stop_finishes_the_item_in_progress() -> None:
    started, release, served = threading.Event(), threading.Event(), []

    def serve(item: int) -> None:
        started.set()
        release.wait(5.0)
        served.append(item)

    slot, worker, _, _ = _worker(serve)
    slot.put(7)
    assert started.wait(5.0) and worker.busy
    threading.Timer(0.2, release.set).start()
    assert worker.stop(5.0)
    assert served == [7] and not worker.busy


def test_an_error_outside_the_item_guard_ends_the_worker_and_is_reported() -> None:
    class Broken(LatestSlot):
        def take(self, timeout=None):
            raise RuntimeError("slot broken")

    ended: list[BaseException] = []
    worker = FrameWorker(Broken(), lambda item: None, lambda item, e: None, ended.append)
    worker.start()
    worker._thread.join(5.0)
    assert not worker.alive and isinstance(ended[0], RuntimeError)
