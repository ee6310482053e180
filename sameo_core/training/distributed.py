"""torch.distributed set-up from the environment ``torchrun`` provides.

One code path runs as a single process (no ``WORLD_SIZE`` in the environment) or as one of many
ranks: gloo on CPU, nccl on CUDA, one GPU per local rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("run.device asks for CUDA but no GPU is visible")
        if requested == "cuda":
            requested = f"cuda:{local_rank}"
        device = torch.device(requested)
        torch.cuda.set_device(device)
        return device
    return torch.device(requested)


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group described by RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* if present."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch_device = _pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch_device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(rank, world_size, local_rank, torch_device)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar metrics over ranks (identity in a single process)."""
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    tensor /= dist.get_world_size()
    return dict(zip(keys, tensor.tolist()))


def per_rank_batch(batch_size: int, info: DistInfo) -> int:
    """Instances per rank and step: the global batch split evenly over the ranks."""
    if batch_size % info.world_size:
        raise ValueError(
            f"optim.batch_size {batch_size} is not divisible by the {info.world_size} ranks"
        )
    return batch_size // info.world_size
