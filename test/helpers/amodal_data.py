"""Small hand-made masks and COCO-style files for the amodal data tests (test/data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

H, W = 20, 30


def rect_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Bool HxW mask, True on rows y0..y1-1 and columns x0..x1-1."""
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE written by hand: column-major runs, starting with zeros."""
    flat = mask.flatten(order="F").astype(int)
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def rect_polygon(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """Flat polygon of a rectangle that pycocotools rasterises to columns x0..x1-1, rows
    y0..y1-1 (its outline passes through the pixel centres' upper-left corners)."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def coco_file(tmp: Path, annotations: list[dict[str, Any]], *, name: str = "ann.json") -> Path:
    data = {
        "images": [{"id": 1, "file_name": "a.png", "height": H, "width": W}],
        "annotations": annotations,
        "categories": [{"id": 3, "name": "cup"}, {"id": 4, "name": "wall"}],
    }
    path = tmp / name
    path.write_text(json.dumps(data))
    return path
