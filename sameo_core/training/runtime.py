"""Building the pieces of a training run from a :class:`TrainConfig`."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable

import numpy as np
import torch

from sameo_core.model import Sameo, SameoConfig, build_sameo
from sameo_core.training.recipe import ModelSpec, OptimSpec, RunSpec


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def configure_runtime(run: RunSpec) -> None:
    """Threads, determinism and the seed of the weight initialisation (same on every rank)."""
    if run.threads > 0:
        torch.set_num_threads(run.threads)
    if run.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    seed_everything(run.seed)


def build_model(spec: ModelSpec) -> Sameo:
    """The network to train: a registered variant or explicit small config, optional weights."""
    checkpoint = spec.checkpoint or None
    if spec.config:
        return build_sameo(config=SameoConfig.from_dict(spec.config), checkpoint=checkpoint)
    return build_sameo(variant=spec.variant, checkpoint=checkpoint)


def make_optimizer(params: list[torch.nn.Parameter], spec: OptimSpec) -> torch.optim.Optimizer:
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)


def lr_schedule(spec: OptimSpec, total_steps: int) -> Callable[[int], float]:
    """Learning rate of a step: linear warm-up, then constant (paper) or cosine to zero.

    A pure function of the step, so a resumed run follows the same curve without saved state.
    """

    def lr_at(step: int) -> float:
        if spec.warmup_steps and step < spec.warmup_steps:
            return spec.lr * (step + 1) / spec.warmup_steps
        if spec.schedule == "none":
            return spec.lr
        span = max(1, total_steps - spec.warmup_steps)
        progress = min(1.0, (step - spec.warmup_steps) / span)
        return spec.lr * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_at


def amp_setup(
    run: RunSpec, device: torch.device
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """(autocast dtype, scaler): bf16 where supported, else fp16 with a scaler; none on CPU."""
    if not run.amp or device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")
