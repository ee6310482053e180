"""Training-time sampling: which dataset a batch comes from, and which box prompts a mask.

- `DatasetMixer`: a dataset is drawn with probability log(size) / sum(log sizes) (paper,
  section 4.3). log(1) = 0 would make a one-instance dataset unreachable, so the weight is
  log(max(size, 2)): identical to the paper for every size >= 2, and a size-1 dataset gets the
  weight of a size-2 one. Empty datasets are rejected.
- `sample_prompt_box`: the modal (visible) or the amodal box with probability 0.5 each (paper,
  sections 3.1 and 4.1), optionally jittered.

Both are numpy-based and deterministic given a seeded `numpy.random.Generator`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # xyxy pixels, exclusive ends (sameo_core.geometry)


class DatasetMixer:
    """Draws dataset names with probability proportional to log(size)."""

    def __init__(self, sizes: Mapping[str, int], seed: int | None = None):
        if not sizes:
            raise ValueError("no datasets to mix")
        empty = [name for name, n in sizes.items() if n < 1]
        if empty:
            raise ValueError(f"empty dataset(s) cannot be sampled: {empty}")
        self.names = list(sizes)
        weights = np.array([math.log(max(sizes[n], 2)) for n in self.names])
        self.probabilities = weights / weights.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self) -> str:
        return self.names[int(self.rng.choice(len(self.names), p=self.probabilities))]

    def sample_many(self, count: int) -> list[str]:
        picks = self.rng.choice(len(self.names), size=count, p=self.probabilities)
        return [self.names[int(i)] for i in picks]


@dataclass(frozen=True)
class PromptConfig:
    amodal_probability: float = 0.5
    jitter: float = 0.0  # std of each box edge's shift, as a fraction of the box width/height

    def __post_init__(self) -> None:
        if not 0.0 <= self.amodal_probability <= 1.0:
            raise ValueError(
                f"amodal_probability must be in [0, 1], got {self.amodal_probability}"
            )
        if self.jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter}")


@dataclass(frozen=True)
class PromptBox:
    xyxy: tuple[float, float, float, float]  # what box prompts of SAM-style models take
    kind: str  # "amodal" or "modal"


def sample_prompt_box(
    rng: np.random.Generator,
    visible_box: Box,
    amodal_box: Box,
    image_size: tuple[int, int],
    cfg: PromptConfig | None = None,
) -> PromptBox:
    """The modal or the amodal box (xyxy) as a prompt, jittered and clipped to the image
    (height, width); a jittered box keeps at least 1 px per side."""
    cfg = cfg or PromptConfig()
    use_amodal = bool(rng.random() < cfg.amodal_probability)
    x0, y0, x1, y1 = (float(v) for v in (amodal_box if use_amodal else visible_box))
    w, h = x1 - x0, y1 - y0
    if cfg.jitter > 0:
        dx0, dy0, dx1, dy1 = rng.normal(0.0, cfg.jitter, 4) * np.array([w, h, w, h])
        x0, y0, x1, y1 = x0 + dx0, y0 + dy0, x1 + dx1, y1 + dy1
    height, width = image_size
    x0, x1 = sorted((float(np.clip(x0, 0, width - 1)), float(np.clip(x1, 1, width))))
    y0, y1 = sorted((float(np.clip(y0, 0, height - 1)), float(np.clip(y1, 1, height))))
    return PromptBox(
        (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)), "amodal" if use_amodal else "modal"
    )
