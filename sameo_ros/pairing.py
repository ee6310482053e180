"""Pairs each detection array with the image of its stamp (exact, else nearest within a slop),
and finds a frame's depth image and CameraInfo by the same rule.

Pure Python, no ROS: the node feeds it from its subscription callbacks, the replay tool from a bag.
Images are expected in stamp order (one camera); detections usually arrive after their image.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

ImageT = TypeVar("ImageT")
DetectionsT = TypeVar("DetectionsT")
T = TypeVar("T")


def nearest(stamps: Sequence[int], stamp: int, slop_ns: int) -> int | None:
    """Index of the entry of exactly `stamp`, else of the nearest one within `slop_ns` (the
    earlier of two equally near), else None. The one matching rule of this module."""
    exact = next((i for i, s in enumerate(stamps) if s == stamp), None)
    if exact is not None or not stamps:
        return exact
    best = min(range(len(stamps)), key=lambda i: (abs(stamps[i] - stamp), stamps[i]))
    return best if abs(stamps[best] - stamp) <= slop_ns else None


@dataclass(frozen=True)
class Pair(Generic[ImageT, DetectionsT]):
    """An image and the detections that belong to it."""

    image: ImageT
    detections: DetectionsT
    image_stamp: int  # nanoseconds
    detections_stamp: int


@dataclass
class PairingResult(Generic[ImageT, DetectionsT]):
    """What one new message produced: completed pairs and detection stamps given up on."""

    pairs: list[Pair[ImageT, DetectionsT]] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)


class StampPairer(Generic[ImageT, DetectionsT]):
    """Matches detections to buffered images by header stamp (nanoseconds).

    A detection array pairs with the image of exactly its stamp. Otherwise it waits until an
    image at or after its stamp has arrived (no nearer image can follow) and takes the nearest
    buffered image within `slop_ns`; with none that close it is reported unmatched. Each image
    is used once.
    """

    def __init__(self, slop_ns: int, history: int = 16) -> None:
        if slop_ns < 0 or history < 1:
            raise ValueError("slop_ns must be >= 0 and history >= 1")
        self.slop_ns = slop_ns
        self._images: deque[tuple[int, ImageT]] = deque(maxlen=history)
        self._pending: deque[tuple[int, DetectionsT]] = deque()
        self._history = history
        self.unmatched_total = 0

    def add_image(self, stamp: int, image: ImageT) -> PairingResult[ImageT, DetectionsT]:
        self._images.append((stamp, image))
        result: PairingResult[ImageT, DetectionsT] = PairingResult()
        still_pending: deque[tuple[int, DetectionsT]] = deque()
        for det_stamp, detections in self._pending:
            if not self._resolve(det_stamp, detections, result):
                still_pending.append((det_stamp, detections))
        self._pending = still_pending
        return result

    def add_detections(
        self, stamp: int, detections: DetectionsT
    ) -> PairingResult[ImageT, DetectionsT]:
        result: PairingResult[ImageT, DetectionsT] = PairingResult()
        if not self._resolve(stamp, detections, result):
            self._pending.append((stamp, detections))
            if len(self._pending) > self._history:
                self._give_up(self._pending.popleft()[0], result)
        return result

    def _resolve(self, stamp: int, detections: DetectionsT, result: PairingResult) -> bool:
        """Pair, give up, or leave pending (False)."""
        stamps = [s for s, _ in self._images]
        if stamp not in stamps and (not stamps or stamps[-1] < stamp):
            return False  # a nearer (or exact) image may still come
        match = nearest(stamps, stamp, self.slop_ns)
        if match is None:
            self._give_up(stamp, result)
            return True
        image_stamp, image = self._images[match]
        del self._images[match]
        result.pairs.append(Pair(image, detections, image_stamp, stamp))
        return True

    def _give_up(self, stamp: int, result: PairingResult) -> None:
        self.unmatched_total += 1
        result.unmatched.append(stamp)

    @property
    def pending(self) -> int:
        """Detection arrays still waiting for their image."""
        return len(self._pending)


class StampBuffer(Generic[T]):
    """The last `history` messages of one stream (depth images, CameraInfo) by header stamp, for
    the frame worker to look up the one that goes with a frame, by the pairing rule (`nearest`).

    Thread-safe: a subscription callback adds, the worker waits in `match`.
    """

    def __init__(self, slop_ns: int, history: int = 16) -> None:
        if slop_ns < 0 or history < 1:
            raise ValueError("slop_ns must be >= 0 and history >= 1")
        self.slop_ns = slop_ns
        self._messages: deque[tuple[int, T]] = deque(maxlen=history)
        self._changed = threading.Condition()
        self.received = 0

    def add(self, stamp: int, message: T) -> None:
        with self._changed:
            self._messages.append((stamp, message))
            self.received += 1
            self._changed.notify_all()

    def _settled(self, stamp: int) -> bool:
        """No better match for `stamp` can come: its exact stamp, or a later one, is here."""
        return any(s >= stamp for s, _ in self._messages)

    def match(self, stamp: int, timeout: float = 0.0) -> T | None:
        """The message of `stamp` (exact, else the nearest within the slop), waiting up to
        `timeout` seconds while a nearer one may still arrive; None when none is that near."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._settled(stamp):
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    break
            messages = list(self._messages)
        index = nearest([s for s, _ in messages], stamp, self.slop_ns)
        return None if index is None else messages[index][1]

    @property
    def latest_stamp(self) -> int | None:
        with self._changed:
            return self._messages[-1][0] if self._messages else None
