"""Pairs each detection array with the image of its stamp (exact, else nearest within a slop).

Pure Python, no ROS: the node feeds it from its subscription callbacks, the replay tool from a bag.
Images are expected in stamp order (one camera); detections usually arrive after their image.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

ImageT = TypeVar("ImageT")
DetectionsT = TypeVar("DetectionsT")


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
        exact = next((i for i, (s, _) in enumerate(self._images) if s == stamp), None)
        if exact is None:
            if not self._images or self._images[-1][0] < stamp:
                return False  # a nearer (or exact) image may still come
            nearest = min(range(len(self._images)), key=lambda i: abs(self._images[i][0] - stamp))
            if abs(self._images[nearest][0] - stamp) > self.slop_ns:
                self._give_up(stamp, result)
                return True
            exact = nearest
        image_stamp, image = self._images[exact]
        del self._images[exact]
        result.pairs.append(Pair(image, detections, image_stamp, stamp))
        return True

    def _give_up(self, stamp: int, result: PairingResult) -> None:
        self.unmatched_total += 1
        result.unmatched.append(stamp)

    @property
    def pending(self) -> int:
        """Detection arrays still waiting for their image."""
        return len(self._pending)
