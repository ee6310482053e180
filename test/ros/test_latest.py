"""The cameras' newest-frame slots and their round-robin turn (sameo_ros/latest.py): each
camera keeps only its newest frame, and the worker serves the cameras in turn, so that a camera
that always has a frame waiting cannot starve one that has a frame now and then."""

from __future__ import annotations

import threading

import pytest

from sameo_ros.latest import NewestFrames


def test_a_slot_keeps_the_newest_item_and_counts_drops() -> None:
    frames: NewestFrames[int] = NewestFrames()
    assert frames.put(0, 1) is False
    assert frames.put(0, 2) is True and frames.dropped == [1]
    assert frames.take(timeout=0.1) == [(0, 2)]
    assert frames.take(timeout=0.01) == []


def test_close_wakes_a_waiting_worker() -> None:
    frames: NewestFrames[int] = NewestFrames(2)
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(frames.take(timeout=10.0)))
    worker.start()
    frames.close()
    worker.join(timeout=2.0)
    assert not worker.is_alive() and got == [[]] and frames.closed
    frames.put(1, 5)
    assert frames.take(timeout=0.01) == []  # closed: nothing is served any more


def test_a_fast_camera_cannot_starve_a_slow_one() -> None:
    """Camera 0 has a new frame before every take; cameras 1 and 2 now and then. Every frame of
    the slow cameras is served, at their turn, and the fast one gets the turns left."""
    frames: NewestFrames[str] = NewestFrames(3)
    served = []
    for k in range(12):
        frames.put(0, f"fast{k}")
        if k % 3 == 0:
            frames.put(1, f"slow{k}")
        if k % 4 == 1:
            frames.put(2, f"other{k}")
        served += frames.take(timeout=0.0)
    cameras = [camera for camera, _ in served]
    assert cameras == [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2, 0]
    slow = [item for camera, item in served if camera == 1]
    assert slow == ["slow0", "slow3", "slow6", "slow9"]  # none lost: each served in its turn
    assert [item for camera, item in served if camera == 2] == ["other1", "other5", "other9"]
    assert frames.dropped == [7, 0, 0]  # the fast camera's frames replaced while others ran


def test_batch_takes_every_waiting_camera_in_turn_order() -> None:
    frames: NewestFrames[str] = NewestFrames(4)
    frames.put(2, "c")
    frames.put(0, "a")
    assert frames.take(timeout=0.0) == [(0, "a")]  # the turn moves past camera 0
    frames.put(0, "a2")
    frames.put(3, "d")
    assert frames.take(timeout=0.0, batch=True) == [(2, "c"), (3, "d"), (0, "a2")]
    assert frames.take(timeout=0.0, batch=True) == []


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="sources must be >= 1"):
        NewestFrames(0)
