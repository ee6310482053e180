"""The batch of training step ``s`` on rank ``r``: a pure function of (seed, r, s).

``StepBatches`` is a map-style dataset indexed by step, so a ``DataLoader`` with workers can
prepare batches ahead, and resuming at step ``s`` only means starting the index range at ``s``.
Each global step takes its images from one dataset, drawn with probability proportional to
log(size) (paper 4.3): the draw depends on (seed, s) only, so under DDP every rank uses the same
dataset at a step, while each rank draws its own images of it from (seed, r, s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import DataLoader, Dataset

from sameo_core.data.sampling import DatasetMixer, PromptConfig, sample_prompt_box
from sameo_core.geometry import mask_boxes
from sameo_core.training.batches import InstanceBatch, Sample, collate
from sameo_core.training.recipe import DataSpec
from sameo_core.training.sources import Source


def usable_instances(sample: Sample, min_visible_fraction: float) -> np.ndarray:
    """Indices of instances with a visible part (a box prompt needs one) of sufficient share."""
    amodal = sample.amodal.reshape(len(sample.amodal), -1).sum(1)
    visible = sample.visible.reshape(len(sample.visible), -1).sum(1)
    keep = (visible > 0) & (visible >= min_visible_fraction * np.maximum(amodal, 1))
    return np.flatnonzero(keep)


def prompt_box(sample: Sample, index: int, cfg: PromptConfig, rng: np.random.Generator):
    """The amodal or the visible GT box (p = 0.5 in the paper) as an xyxy prompt."""
    visible, amodal = mask_boxes(np.stack([sample.visible[index], sample.amodal[index]]))
    prompt = sample_prompt_box(rng, tuple(visible), tuple(amodal), sample.image.shape[:2], cfg)
    return np.asarray(prompt.xyxy, dtype=np.float32)


class StepBatches(Dataset):
    """Batches of one rank. ``instances_per_batch`` counts prompted instances, or images (each
    with up to ``spec.max_instances_per_image`` prompts) when ``batch_unit`` is ``"images"``."""

    def __init__(
        self,
        sources: Sequence[Source],
        spec: DataSpec,
        instances_per_batch: int,
        img_size: int,
        mask_size: int,
        seed: int,
        rank: int = 0,
        batch_unit: str = "instances",
    ) -> None:
        if not sources:
            raise ValueError("no data source")
        if batch_unit not in ("instances", "images"):
            raise ValueError(f"batch_unit must be 'instances' or 'images', got {batch_unit!r}")
        self.count_images = batch_unit == "images"
        self.sources = list(sources)
        # The data helper's mixer: p(dataset) = log(size) / sum(log sizes) (paper, section 4.3).
        mixer = DatasetMixer({f"{i}:{s.name}": len(s) for i, s in enumerate(self.sources)})
        self.weights = mixer.probabilities
        self.prompts = PromptConfig(spec.prompt_amodal_prob, spec.box_jitter)
        self.spec = spec
        self.instances_per_batch = instances_per_batch
        self.img_size = img_size
        self.mask_size = mask_size
        self.seed = seed
        self.rank = rank

    def __len__(self) -> int:
        return 2**62

    def source_index(self, step: int) -> int:
        """The dataset of global step ``step``, the same on every rank."""
        rng = np.random.default_rng([self.seed, step])
        return int(rng.choice(len(self.sources), p=self.weights))

    def __getitem__(self, step: int) -> InstanceBatch:
        rng = np.random.default_rng([self.seed, self.rank, step])
        source = self.sources[self.source_index(step)]
        samples, picks, boxes = [], [], []
        needed = self.instances_per_batch  # instances (or images) still to take
        limit = self.spec.max_instances_per_image
        for _ in range(100 * self.instances_per_batch):
            if needed == 0:
                break
            sample = source.sample(rng)
            usable = rng.permutation(usable_instances(sample, self.spec.min_visible_fraction))
            pick = usable[: limit if self.count_images else min(needed, limit)]
            if len(pick) == 0:
                continue
            samples.append(sample)
            picks.append(pick)
            boxes.append(np.stack([prompt_box(sample, int(i), self.prompts, rng) for i in pick]))
            needed -= 1 if self.count_images else len(pick)
        if needed:
            raise ValueError(f"source {source.name} yields too few usable instances")
        return collate(samples, picks, boxes, self.img_size, self.mask_size)


def _identity(batch: InstanceBatch) -> InstanceBatch:
    return batch


def step_loader(batches: StepBatches, start: int, stop: int, num_workers: int) -> DataLoader:
    """Batches of steps ``start .. stop-1`` in order, prepared by ``num_workers`` processes."""
    return DataLoader(
        batches,
        batch_size=None,
        sampler=range(start, stop),
        num_workers=num_workers,
        collate_fn=_identity,
        persistent_workers=False,
        prefetch_factor=4 if num_workers else None,
    )
