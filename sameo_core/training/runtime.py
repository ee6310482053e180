"""Building the pieces of a training run from a :class:`TrainConfig`."""

from __future__ import annotations

import copy
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
    """The network to train: a registered variant or explicit small config, optional weights.

    A modal head that the weights lack but `spec.heads` trains starts as a copy of the amodal
    decoder (`add_modal_head`). Training an encoder changes the embeddings every head decodes,
    so it needs every head of the network to be trained.
    """
    checkpoint = spec.checkpoint or None
    if spec.config:
        model = build_sameo(config=SameoConfig.from_dict(spec.config), checkpoint=checkpoint)
    else:
        # variant "" = the size the checkpoint says (ours carry their configuration)
        model = build_sameo(variant=spec.variant or None, checkpoint=checkpoint)
    if "modal" in spec.heads and not model.has_modal_head:
        add_modal_head(model)
    if spec.train_image_encoder or spec.train_prompt_encoder:
        untrained = [h for h in ("amodal", "modal")
                     if h not in spec.heads and (h == "amodal" or model.has_modal_head)]
        if untrained:
            raise ValueError(
                f"training an encoder changes what every decoder sees, but model.heads "
                f"{list(spec.heads)} leaves the {' and '.join(untrained)} head untrained; "
                "train every head of the network or freeze the encoders"
            )
    return model


def add_modal_head(model: Sameo) -> None:
    """Give `model` a modal head, a copy of its amodal decoder (SAMEO's amodal decoder is itself
    a fine-tuned copy of EfficientSAM's modal one; README, "The model and its checkpoints")."""
    model.modal_decoder = copy.deepcopy(model.mask_decoder)


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
