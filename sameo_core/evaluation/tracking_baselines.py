"""The two baselines the tracker is compared with (README, "Object permanence (tracking)").

- **Frame by frame** (no tracks): what sameo published before tracking, each frame's masks with
  the detector's ids. A detector that gives ids keeps them only while it sees an object; one
  that gives none leaves every mask a new id in every frame.
- **IoU tracker without memory** (the IOU tracker of Bochinski et al., AVSS 2017, on amodal
  masks): a mask continues the track of the previous frame's mask it overlaps most (optimal
  assignment, amodal-mask IoU ≥ `min_iou`, 0.5 as that paper's σ_IoU); a track whose object is
  not in the frame ends at once, so an object that comes back gets a new id.

Both report only what the frame shows: nothing while an object is hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from sameo_core.geometry import RoiMask
from sameo_core.tracking.association import mask_iou


class FrameByFrame:
    """Ids of each frame's masks from the detector's ids (a new id for an empty one)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._next = 1

    def update(self, detection_ids: Sequence[str]) -> list[int]:
        out = []
        for detection_id in detection_ids:
            if detection_id and detection_id in self._ids:
                out.append(self._ids[detection_id])
                continue
            out.append(self._next)
            if detection_id:
                self._ids[detection_id] = self._next
            self._next += 1
        return out


class IouTracker:
    """Frame-to-frame association by amodal-mask IoU, no memory (module docstring)."""

    def __init__(self, min_iou: float = 0.5) -> None:
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        self.min_iou = min_iou
        self._previous: list[tuple[int, RoiMask]] = []
        self._next = 1

    def update(self, amodal: Sequence[RoiMask]) -> list[int]:
        iou = np.array([[mask_iou(m, p) for _, p in self._previous] for m in amodal]).reshape(
            len(amodal), len(self._previous))
        ids: list[int | None] = [None] * len(amodal)
        if iou.size:
            for r, c in zip(*linear_sum_assignment(iou, maximize=True)):
                if iou[r, c] >= self.min_iou:
                    ids[r] = self._previous[c][0]
        for k, value in enumerate(ids):
            if value is None:
                ids[k] = self._next
                self._next += 1
        self._previous = [(int(i), m) for i, m in zip(ids, amodal) if m.area]
        return [int(i) for i in ids]


__all__ = ["FrameByFrame", "IouTracker"]
