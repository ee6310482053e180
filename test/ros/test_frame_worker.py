"""The inference thread serves the cameras' newest items, survives failing items and reports its
end."""

from __future__ import annotations

import threading

from sameo_ros.frame_worker import FrameWorker
from sameo_ros.latest import NewestFrames


def _worker(serve, on_exit=None, cameras: int = 1, batch: bool = False):
    frames: NewestFrames[int] = NewestFrames(cameras)
    errors: list[tuple[list, Exception]] = []
    ended: list[BaseException] = []
    worker = FrameWorker(frames, serve, lambda taken, e: errors.append((taken, e)),
                         on_exit or ended.append, batch=batch)  # fmt: skip
    worker.start()
    return frames, worker, errors, ended


def test_a_failing_item_is_reported_and_the_next_one_served() -> None:
    served, done = [], threading.Event()

    def serve(taken: list) -> None:
        if taken == [(0, 1)]:
            raise ValueError("bad frame")
        served.append(taken)
        done.set()

    frames, worker, errors, ended = _worker(serve)
    frames.put(0, 1)
    while not errors:
        threading.Event().wait(0.01)
    frames.put(0, 2)
    assert done.wait(5.0)
    assert served == [[(0, 2)]] and errors[0][0] == [(0, 1)] and str(errors[0][1]) == "bad frame"
    assert worker.stop(5.0) and not ended and not worker.alive


def test_stop_finishes_the_item_in_progress() -> None:
    started, release, served = threading.Event(), threading.Event(), []

    def serve(taken: list) -> None:
        started.set()
        release.wait(5.0)
        served.append(taken)

    frames, worker, _, _ = _worker(serve)
    frames.put(0, 7)
    assert started.wait(5.0) and worker.busy
    threading.Timer(0.2, release.set).start()
    assert worker.stop(5.0)
    assert served == [[(0, 7)]] and not worker.busy


def test_with_batch_every_waiting_camera_is_served_at_once() -> None:
    release, served, done = threading.Event(), [], threading.Event()

    def serve(taken: list) -> None:
        release.wait(5.0)  # the first frame holds the worker while the others arrive
        served.append(taken)
        if len(served) == 2:
            done.set()

    frames, worker, _, _ = _worker(serve, cameras=3, batch=True)
    frames.put(0, 1)
    while not worker.busy:
        threading.Event().wait(0.01)
    frames.put(2, 3)
    frames.put(1, 2)
    release.set()
    assert done.wait(5.0) and worker.stop(5.0)
    assert served == [[(0, 1)], [(1, 2), (2, 3)]]


def test_an_error_outside_the_item_guard_ends_the_worker_and_is_reported() -> None:
    class Broken(NewestFrames):
        def take(self, timeout=None, batch=False):
            raise RuntimeError("slot broken")

    ended: list[BaseException] = []
    worker = FrameWorker(Broken(), lambda item: None, lambda item, e: None, ended.append)
    worker.start()
    worker._thread.join(5.0)
    assert not worker.alive and isinstance(ended[0], RuntimeError)
