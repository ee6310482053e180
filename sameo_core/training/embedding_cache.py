"""On-disk cache of image embeddings for training with a frozen image encoder.

SAMEO trains only the mask decoder, so the encoder output of a stored image never changes: it is
computed once (``fill``) and read back at every step instead of running the ViT. Entries live in
``ROOT/<encoder fingerprint>/<sha1 of the image key>.pt`` as float16 ``[C, g, g]`` tensors; the
fingerprint hashes the encoder weights and input size, so other weights never read stale entries.
Procedural ``shapes`` images are new at every step and cannot be cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch

from sameo_core.model import Sameo
from sameo_core.model.checkpoint import atomic_save
from sameo_core.training.batches import InstanceBatch, image_tensor
from sameo_core.training.distributed import DistInfo, barrier
from sameo_core.training.recipe import TrainConfig
from sameo_core.training.sources import FileSource
from sameo_core.training.stream import StepBatches


def encoder_fingerprint(model: Sameo) -> str:
    digest = hashlib.sha1(str(model.config.img_size).encode())
    for name, tensor in sorted(model.image_encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()[:16]


class EmbeddingCache:
    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.dir = Path(root) / fingerprint

    def path(self, key: str) -> Path:
        return self.dir / f"{hashlib.sha1(key.encode()).hexdigest()}.pt"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def save(self, key: str, embedding: torch.Tensor) -> None:
        atomic_save(embedding.detach().to("cpu", torch.float16).contiguous(), self.path(key))

    def load(self, keys: tuple[str, ...], device: torch.device) -> torch.Tensor:
        """[len(keys), C, g, g] float32 on ``device``; a missing entry is an error."""
        tensors = []
        for key in keys:
            path = self.path(key)
            if not path.is_file():
                raise KeyError(f"image {key!r} is not in the embedding cache {self.dir}")
            tensors.append(torch.load(path, map_location="cpu", weights_only=True))
        return torch.stack(tensors).to(device, torch.float32)


@torch.inference_mode()
def fill(cache: EmbeddingCache, sources: list[FileSource], model: Sameo,
         device: torch.device, batch_size: int = 8) -> int:  # fmt: skip
    """Compute the missing entries of every image of ``sources``; returns how many were added."""
    todo = [(src, i) for src in sources for i in range(len(src))
            if not cache.has(f"{src.groups[i].source}/{src.groups[i].image_id}")]  # fmt: skip
    model.eval()
    for start in range(0, len(todo), batch_size):
        chunk = [src.load(i) for src, i in todo[start : start + batch_size]]
        images = torch.stack([image_tensor(s.image, model.config.img_size) for s in chunk])
        embeddings = model.image_embeddings(images.to(device))
        for sample, embedding in zip(chunk, embeddings):
            cache.save(sample.key, embedding)
    return len(todo)


def embeddings_for_config(
    cfg: TrainConfig, model: Sameo, batches: StepBatches, info: DistInfo
) -> Callable[[InstanceBatch], torch.Tensor] | None:
    """The engine's embedding lookup for ``run.cache_embeddings`` (None when caching is off).

    The main rank fills the cache first; the other ranks wait at a barrier.
    """
    if not cfg.run.cache_embeddings:
        return None
    sources = batches.sources
    if not all(isinstance(s, FileSource) for s in sources):
        raise ValueError("run.cache_embeddings works with stored datasets only, not 'shapes'")
    cache = EmbeddingCache(cfg.run.cache_embeddings, encoder_fingerprint(model))
    if info.is_main:
        added = fill(cache, sources, model.to(info.device), info.device)
        print(f"embedding cache {cache.dir}: {added} new entries")
    barrier()
    return lambda batch: cache.load(batch.keys, info.device)
