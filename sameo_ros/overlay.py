"""Debug overlay of one frame's masks, drawn with sameo_core.visualize: the visible part tinted
solid, the hidden part hatched with a dashed outline (the whole mask solid without a modal head),
arrows from each object to the objects it hides; as label, on a tag that covers no other label,
the id, the score, the visible share, the front-to-back rank and, with depth, the distance.
With tracking each label starts with the track id (#N) and an object keeps its colour (the track
id's) from frame to frame; a HIDDEN track is a dashed outline alone, labelled with its id and the
seconds since it was last seen."""

from __future__ import annotations

import math

import numpy as np

from sameo_core.tracking import TrackState
from sameo_core.visualize import OverlayItem
from sameo_core.visualize import draw_overlay as draw_items

from .pipeline import MaskRecord


def label(record: MaskRecord) -> str:
    """'#track id score vis% r<rank> <depth> m' (the parts that are known); a HIDDEN track:
    '#track hidden <s> s'; a RECOVERED one: '#track recovered score ...'."""
    parts = [f"#{record.track_id}"] if record.track_id else []
    if record.id:
        parts.append(record.id)
    if record.track_state == TrackState.HIDDEN:
        return " ".join([*parts, f"hidden {record.seconds_hidden:.1f} s"])
    if record.track_state == TrackState.RECOVERED:
        parts.append("recovered")
    parts.append(f"{record.score:.2f}")
    if not math.isnan(record.visible_fraction):
        parts.append(f"vis {record.visible_fraction:.0%}")
    if record.rank >= 0:
        parts.append(f"r{record.rank}")
    if record.object_3d is not None:
        parts.append(f"{record.object_3d.depth:.2f} m")
    return " ".join(parts)


def draw_overlay(rgb: np.ndarray, records: list[MaskRecord]) -> np.ndarray:
    """RGB uint8 [H, W, 3] copy of `rgb` with every record drawn on it (ids repeated in a frame:
    the arrows go to the last object of an id)."""
    index = {r.id: k for k, r in enumerate(records) if r.id}
    items = []
    for r in records:
        hidden = r.track_state == TrackState.HIDDEN
        visible = None if r.visible is None else r.amodal.aligned(r.visible)
        items.append(OverlayItem(
            amodal=r.amodal,
            visible=np.zeros(r.amodal.mask.shape, bool) if hidden else visible,
            box=None if hidden else r.prompt_box,
            label=label(r),
            occludes=tuple(index[i] for i in r.occludes if i in index),
            outline_only=hidden,
            colour=r.track_id or None,
        ))  # fmt: skip
    return draw_items(rgb, items)
