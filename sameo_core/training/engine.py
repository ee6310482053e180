"""Training and validation loops (torchvision-references style ``train_one_epoch``/``evaluate``).

An "epoch" here is any iterable of ``(step, batch)`` pairs: SAMEO trains for a number of
iterations, and ``training/train.py`` feeds the loop the steps between two validations.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from sameo_core.training.batches import InstanceBatch
from sameo_core.training.heads import PREFIX, HeadOutputs, head_losses, head_targets
from sameo_core.training.losses import SameoCriterion, mask_iou, weighted_total

EmbeddingFn = Callable[[InstanceBatch], torch.Tensor | None]
StepHook = Callable[[int, dict[str, float]], None]


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss becomes NaN or infinite; training must stop."""


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA when ``dtype`` is given, a no-op otherwise."""
    if dtype is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def _forward(
    trainer: nn.Module, batch: InstanceBatch, embeddings: torch.Tensor | None
) -> HeadOutputs:
    return trainer(batch.images, batch.image_index, batch.boxes, embeddings)


def train_one_epoch(
    trainer: nn.Module,
    criterion: SameoCriterion,
    weight_dict: dict[str, float],
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[int, InstanceBatch]],
    device: torch.device,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    grad_clip: float = 0.0,
    lr_at: Callable[[int], float] | None = None,
    embeddings_for: EmbeddingFn | None = None,
    after_step: StepHook | None = None,
) -> dict[str, float]:
    """Run one optimisation step per ``(step, batch)``; returns the mean of each logged term.

    ``after_step(step + 1, metrics)`` is called after every update (logging, checkpoints).
    Raises :class:`NonFiniteLossError` on a NaN/inf loss, before the update is applied.
    """
    trainer.train()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    totals: dict[str, float] = {}
    count = 0
    for step, batch in batches:
        batch = batch.to(device)
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        embeddings = embeddings_for(batch) if embeddings_for is not None else None
        with autocast(device, amp_dtype):
            outputs = _forward(trainer, batch, embeddings)
        loss_dict = head_losses(criterion, outputs, batch)
        loss = weighted_total(loss_dict, weight_dict)
        if not _finite_on_every_rank(loss):
            terms = {k: v.item() for k, v in loss_dict.items()}
            raise NonFiniteLossError(f"loss is {loss.item()} at step {step}: {terms}")
        optimizer.zero_grad(set_to_none=True)
        _backward_and_step(loss, optimizer, params, scaler, grad_clip)
        metrics = {"loss": loss.item(), **{k: v.item() for k, v in loss_dict.items()}}
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + value
        count += 1
        if after_step is not None:
            after_step(step + 1, metrics)
    return {k: v / max(count, 1) for k, v in totals.items()}


def _finite_on_every_rank(loss: torch.Tensor) -> bool:
    """Whether the loss is finite here and, under DDP, on every other rank too (so that all
    ranks stop together instead of leaving the others waiting in the gradient all-reduce)."""
    finite = math.isfinite(loss.item())
    if not (dist.is_available() and dist.is_initialized()):
        return finite
    flag = torch.tensor([1.0 if finite else 0.0], device=loss.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def _backward_and_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: list[torch.Tensor],
    scaler: torch.amp.GradScaler | None,
    grad_clip: float,
) -> None:
    if scaler is None:
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()


@torch.inference_mode()
def evaluate(
    trainer: nn.Module,
    criterion: SameoCriterion,
    batches: Iterable[InstanceBatch],
    device: torch.device,
    *,
    amp_dtype: torch.dtype | None = None,
    embeddings_for: EmbeddingFn | None = None,
) -> dict[str, float]:
    """Mean loss terms over ``batches``, plus ``miou_selected``: the mean IoU of the output with
    the best predicted IoU, the one used at test time (per head, with its prefix)."""
    trainer.eval()
    totals: dict[str, float] = {}
    count = 0
    for batch in _on_device(batches, device):
        embeddings = embeddings_for(batch) if embeddings_for is not None else None
        with autocast(device, amp_dtype):
            outputs = _forward(trainer, batch, embeddings)
        terms = {k: v.item() for k, v in head_losses(criterion, outputs, batch).items()}
        for head, (logits, iou_pred) in outputs.items():
            chosen = iou_pred.float().argmax(dim=1)
            best = logits.float()[torch.arange(len(chosen), device=device), chosen]
            miou = mask_iou(best, head_targets(batch, head)).mean().item()
            terms[PREFIX[head] + "miou_selected"] = miou
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value
        count += 1
    return {k: v / max(count, 1) for k, v in totals.items()}


def _on_device(batches: Iterable[InstanceBatch], device: torch.device) -> Iterator[InstanceBatch]:
    for batch in batches:
        yield batch.to(device)
