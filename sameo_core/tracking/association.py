"""Which of the frame's masks continues which track: an affinity per (track, mask) pair and one
optimal assignment (`scipy.optimize.linear_sum_assignment`).

Affinity of track t (its predicted amodal mask P, box B_P, class, last detection id) and mask m
(its amodal mask A, visible mask V, box B_A, class, detection id):

- class gate: 0 when both classes are known ("" is unknown) and differ;
- amodal-mask IoU: IoU(A, P);
- box-IoU fallback: IoU(B_A, B_P) when A is empty (the predictor gave no pixel);
- re-appearance (tracks not seen fully visible in the previous frame): max with
  ½ · |V ∩ P| / |V|, the share of the seen part that lies inside the track's region: an
  object coming back from behind an occluder shows a sliver whose amodal completion may be
  poor, but the sliver lies inside the region where the track is carried (README, "Object
  permanence (tracking)"). Halved so that a full mask overlap wins;
- entering the frame: for a track whose region, cut at the image, touches the image border,
  max with ½ · |P ∩ A| / |P|: an object coming into view grows from the border from one frame
  to the next (a sliver of 1 px, then 4 px) faster than its IoU can follow;
- detector-id prior: + `id_prior` when the detection id equals the id of the track's last
  detection and the pair already passes `min_affinity`.

Pairs whose boxes do not intersect get 0 without touching a mask (the cheap pre-gate that keeps
20 tracks x 20 masks near a few hundred microseconds). Pairs under `min_affinity` are never
assigned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from sameo_core.geometry import RoiMask

from .mask_overlap import intersection, mask_iou

REAPPEAR_WEIGHT = 0.5


class Side(NamedTuple):
    """One side of a pair: a track's prediction or one of the frame's masks.

    amodal: the (predicted) amodal mask; visible: the visible mask (None: unknown); box: xyxy
    of the amodal mask, or of the prompt when the mask is empty (4 numbers: an array or a
    tuple); class_id, detection_id: "" when unknown. (A named tuple: the tracker makes about
    40 per frame.)
    """

    amodal: RoiMask
    box: np.ndarray | tuple[float, float, float, float]
    visible: RoiMask | None = None
    class_id: str = ""
    detection_id: str = ""
    at_border: bool = False  # a track whose region (cut at the image) touches the border
    partial: bool = True  # a track not seen fully visible last frame (re-appearance applies)
    area: int = -1  # |amodal| when known (-1: counted here)

    def pixels(self) -> int:
        return self.amodal.area if self.area < 0 else self.area


def box_overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intersection area, IoU) of xyxy boxes a [n, 4] x b [m, 4], both [n, m]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter, np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def affinity_matrix(
    tracks: Sequence[Side], masks: Sequence[Side], min_affinity: float, id_prior: float
) -> np.ndarray:
    """Affinity [len(tracks), len(masks)] (module docstring); 0 = not allowed."""
    out = np.zeros((len(tracks), len(masks)))
    if not tracks or not masks:
        return out
    inter, box_iou = box_overlaps(np.array([t.box for t in tracks], np.float64),
                                  np.array([m.box for m in masks], np.float64))
    track_areas = [t.pixels() for t in tracks]
    mask_areas = [m.pixels() for m in masks]
    visible_areas: dict[int, int] = {}
    rows, cols = np.nonzero(inter > 0)
    for ti, mi in zip(rows.tolist(), cols.tolist()):
        track, mask = tracks[ti], masks[mi]
        if track.class_id and mask.class_id and track.class_id != mask.class_id:
            continue
        track_area, mask_area = track_areas[ti], mask_areas[mi]
        overlap = 0  # |A ∩ P| when both are non-empty
        if mask_area == 0 or track_area == 0:
            value = float(box_iou[ti, mi])
        else:  # mask_iou(A, P)
            overlap = intersection(mask.amodal, track.amodal)
            union = mask_area + track_area - overlap
            value = overlap / union if union > 0 else 0.0
        # the two shares below are halved: they matter only when the IoU is under ½
        if value < REAPPEAR_WEIGHT and track.partial and mask.visible is not None:
            if mi not in visible_areas:
                visible_areas[mi] = mask.visible.area
            if visible_areas[mi]:
                seen = intersection(mask.visible, track.amodal) / visible_areas[mi]
                value = max(value, REAPPEAR_WEIGHT * seen)
        if value < REAPPEAR_WEIGHT and track.at_border and mask_area and track_area:
            grown = overlap / track_area  # |P ∩ A| / |P|: the overlap counted above
            value = max(value, REAPPEAR_WEIGHT * grown)
        if value >= min_affinity and mask.detection_id and (
            mask.detection_id == track.detection_id
        ):
            value += id_prior
        out[ti, mi] = value
    return out


def assign(affinity: np.ndarray, min_affinity: float) -> list[tuple[int, int]]:
    """(track, mask) pairs of the assignment with the largest total affinity, pairs under
    `min_affinity` left out; each track and each mask at most once."""
    if affinity.size == 0 or not (affinity >= min_affinity).any():
        return []
    rows, cols = linear_sum_assignment(affinity, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if affinity[r, c] >= min_affinity]


__all__ = ["REAPPEAR_WEIGHT", "Side", "affinity_matrix", "assign", "box_overlaps",
           "intersection", "mask_iou"]
