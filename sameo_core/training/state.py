"""Training checkpoints: model, optimizer, grad scaler, step and RNG state in one file.

The file is also a valid model checkpoint (``{"model": ..., "sameo": ...}``), so
``build_sameo(checkpoint=path)`` loads it directly. It is written atomically (temporary file +
rename) and read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sameo_core.model.checkpoint import atomic_save, checkpoint_metadata


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(model: nn.Module) -> nn.Module:
    """The SAMEO network inside DistributedDataParallel and/or ``SameoTrainer`` wrappers."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = model.module
    return getattr(model, "model", model)


def save_training_state(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    step: int,
    train_config: dict[str, Any],
) -> None:
    """Write everything needed to continue training exactly after ``step`` steps."""
    net = unwrap(model)
    state = {
        "model": net.state_dict(),
        "sameo": checkpoint_metadata(net.config, step=step, modal_head=net.has_modal_head,
                                     train_config=train_config),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "step": step,
        "rng": rng_state(),
    }
    atomic_save(state, path)


def load_training_state(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
) -> int:
    """Restore a file written by :func:`save_training_state`; returns the step to continue from."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing = [k for k in ("model", "optimizer", "step", "rng") if k not in state]
    if missing:
        raise ValueError(f"{path} is not a training checkpoint (missing {missing})")
    unwrap(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return int(state["step"])
