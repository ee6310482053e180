"""Train SAMEO (paper section 3.1 / 4.1): box prompt → amodal mask, only the decoder by default.

``model.heads`` chooses the decoders trained: ``[amodal]`` (the paper), ``[modal]`` (the modal
head on visible masks, e.g. beside a trained amodal decoder) or ``[amodal, modal]``::

    python -m training.train --config config/train_cpu_shapes_modal.yaml

One process on CPU or one GPU::

    python -m training.train --config config/train_sameo_vitt.yaml
    python -m training.train --config config/train_cpu_shapes.yaml run.steps=2000 optim.lr=1e-3

Many GPUs or nodes (DistributedDataParallel; nccl on CUDA, gloo on CPU)::

    torchrun --nproc_per_node 8 -m training.train --config config/train_sameo_vitt.yaml
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 \\
        --nproc_per_node 8 -m training.train --config config/train_sameo_vitt.yaml

Continue an interrupted run exactly::

    python -m training.train --config CONFIG --resume runs/NAME/checkpoint.pt

``optim.batch_size`` counts prompted instances per step over all ranks (paper: 32), or images
with up to ``data.max_instances_per_image`` prompts each with ``optim.batch_unit=images``. The
quality filters of each stored source (``data.filters``) run at the start; what they removed is
printed and logged (``log.jsonl``, ``"split": "data"``). Outputs in
``run.out_dir``: ``checkpoint.pt`` (latest, with optimizer and RNG state, every
``run.ckpt_every`` steps), ``model_step0.pt`` and ``model_final.pt`` (weights + config, loadable
with ``build_sameo(checkpoint=...)``), ``config.yaml``, ``log.jsonl`` and TensorBoard ``tb/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel

from sameo_core.evaluation.coco_eval import load_gt
from sameo_core.evaluation.run import gt_prompt_validation
from sameo_core.model import Sameo
from sameo_core.model.checkpoint import save_checkpoint
from sameo_core.tools import cli
from sameo_core.training.batches import InstanceBatch
from sameo_core.training.distributed import (
    cleanup_distributed,
    init_distributed,
    per_rank_batch,
    reduce_mean,
)
from sameo_core.training.embedding_cache import embeddings_for_config
from sameo_core.training.engine import NonFiniteLossError, evaluate, train_one_epoch
from sameo_core.training.heads import check_heads, head_weights
from sameo_core.training.losses import SameoCriterion
from sameo_core.training.monitor import Monitor
from sameo_core.training.recipe import TrainConfig, load_config
from sameo_core.training.runtime import (
    amp_setup,
    build_model,
    configure_runtime,
    lr_schedule,
    make_optimizer,
)
from sameo_core.training.sources import SHAPES, FileSource, open_source, source_filters
from sameo_core.training.state import load_training_state, save_training_state
from sameo_core.training.stream import StepBatches, step_loader
from sameo_core.training.wrapper import SameoTrainer, set_trainable

VAL_SEED_OFFSET = 1_000_003  # held-out procedural validation scenes use other seeds than training
VAL_BATCHES = 4


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="SAMEO training", add_help=add_help)
    parser.add_argument("--config", type=Path, help="YAML training config (config/train_*.yaml)")
    parser.add_argument("--resume", type=Path, help="a checkpoint.pt of this run to continue")
    parser.add_argument("overrides", nargs="*", help="section.key=value, e.g. optim.lr=3e-4")
    return parser


def _weight_dict(cfg: TrainConfig) -> dict[str, float]:
    o = cfg.optim
    weights = {"loss_dice": o.loss_dice, "loss_focal": o.loss_focal, "loss_iou": o.loss_iou}
    return head_weights(weights, check_heads(cfg.model.heads))


def _batches(cfg: TrainConfig, model: Sameo, rank: int, per_rank: int, seed: int) -> StepBatches:
    roots = cfg.data.image_roots or ("",) * len(cfg.data.sources)
    scenes = cfg.data.scene_config()
    sources = [open_source(s, root, cfg.data.shapes_image_size, source_filters(cfg.data, i),
                           scenes)
               for i, (s, root) in enumerate(zip(cfg.data.sources, roots))]  # fmt: skip
    size = model.config
    return StepBatches(sources, cfg.data, per_rank, size.img_size, size.low_res_size, seed, rank,
                       batch_unit=cfg.optim.batch_unit)  # fmt: skip


def _report_sources(batches: StepBatches, monitor: Monitor, step: int) -> None:
    """Print and log, per stored source, its size and what the filters and the reader removed."""
    for source in batches.sources:
        if isinstance(source, FileSource):
            summary = source.summary()
            monitor.message("data " + " ".join(f"{k}={v}" for k, v in summary.items()))
            monitor.record("data", step, summary)


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    info = init_distributed(cfg.run.device)
    configure_runtime(cfg.run)
    out_dir = Path(cfg.run.out_dir)
    model = build_model(cfg.model)
    heads = check_heads(cfg.model.heads)
    params = set_trainable(model, cfg.model.train_image_encoder, cfg.model.train_prompt_encoder,
                           heads)  # fmt: skip
    trainer = SameoTrainer(model, cfg.model.multimask, heads).to(info.device)
    optimizer = make_optimizer(params, cfg.optim)
    amp_dtype, scaler = amp_setup(cfg.run, info.device)
    start = load_training_state(args.resume, trainer, optimizer, scaler) if args.resume else 0
    local_trainer = trainer  # validation runs on the main rank only, outside DDP
    if info.distributed:
        ids = [info.device.index] if info.device.type == "cuda" else None
        # The buffers (pixel statistics, positional-encoding matrix) are constants: no broadcast.
        trainer = DistributedDataParallel(trainer, device_ids=ids, broadcast_buffers=False)
    batches = _batches(cfg, model, info.rank, per_rank_batch(cfg.optim.batch_size, info),
                       cfg.run.seed)  # fmt: skip
    embeddings_for = embeddings_for_config(cfg, model, batches, info)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if start == 0:
            save_checkpoint(out_dir / "model_step0.pt", model, step=0)
    val = _validation_batches(cfg, model) if info.is_main else []  # fixed held-out batches
    monitor = Monitor(out_dir, start, cfg.run.steps, info.is_main, cfg.run.progress,
                      cfg.run.log_every)  # fmt: skip
    _report_sources(batches, monitor, start)
    criterion = SameoCriterion(focal_alpha=cfg.optim.focal_alpha, weight_dict=_weight_dict(cfg),
                               overlap_weight=cfg.optim.overlap_weight)  # fmt: skip

    def after_step(step: int, metrics: dict[str, float]) -> None:
        if step % cfg.run.log_every == 0:  # every rank takes part in the average
            metrics = reduce_mean(metrics, info.device)
        monitor.step(step, metrics)
        if info.is_main and (step % cfg.run.ckpt_every == 0 or step == cfg.run.steps):
            save_training_state(out_dir / "checkpoint.pt", trainer, optimizer, scaler, step,
                                cfg.to_dict())  # fmt: skip

    try:
        for chunk_start, chunk_stop in _chunks(start, cfg.run.steps, cfg.run.val_every):
            loader = step_loader(batches, chunk_start, chunk_stop, cfg.data.num_workers)
            train_one_epoch(
                trainer, criterion, _weight_dict(cfg), optimizer,
                zip(range(chunk_start, chunk_stop), loader), info.device,
                scaler=scaler, amp_dtype=amp_dtype, grad_clip=cfg.optim.grad_clip,
                lr_at=lr_schedule(cfg.optim, cfg.run.steps), embeddings_for=embeddings_for,
                after_step=after_step,
            )  # fmt: skip
            if info.is_main:
                _validate(cfg, local_trainer, criterion, val, info.device, monitor, chunk_stop)
    except NonFiniteLossError as exc:
        monitor.close()
        print(f"stopping: {exc}", file=sys.stderr)
        cleanup_distributed()
        return 1
    monitor.close()
    if info.is_main:
        save_checkpoint(out_dir / "model_final.pt", model, step=cfg.run.steps)
    cleanup_distributed()
    return 0


def _chunks(start: int, stop: int, every: int) -> list[tuple[int, int]]:
    """Step ranges between validations, aligned to multiples of ``every`` (also on resume)."""
    bounds = [start, *range((start // every + 1) * every, stop, every), stop]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _validation_batches(cfg: TrainConfig, model: Sameo) -> list[InstanceBatch]:
    """Fixed held-out procedural batches (only when training on ``shapes``)."""
    if SHAPES not in cfg.data.sources:
        return []
    shapes_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, sources=(SHAPES,)))
    stream = _batches(shapes_cfg, model, 0, cfg.optim.batch_size, cfg.run.seed + VAL_SEED_OFFSET)
    return [stream[i] for i in range(VAL_BATCHES)]


def _validate(cfg: TrainConfig, trainer: SameoTrainer, criterion: SameoCriterion,
              val: list[InstanceBatch], device: torch.device, monitor: Monitor,
              step: int) -> None:  # fmt: skip
    """Held-out procedural batches (loss terms) and/or a GT set (AP and mean IoU)."""
    stats = evaluate(trainer, criterion, val, device) if val else {}
    if cfg.data.val_gt:
        gt = load_gt(cfg.data.val_gt, cfg.data.val_image_root or None)
        root = cfg.data.val_image_root or Path(cfg.data.val_gt).parent
        stats.update(gt_prompt_validation(trainer.model, gt, root, cfg.data.val_max_images,
                                          device))  # fmt: skip
    if stats:
        monitor.scalars("val", step, stats)
        monitor.message(f"step {step}: val " + _fmt(stats))


def _fmt(stats: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in sorted(stats.items()))


if __name__ == "__main__":
    torch.multiprocessing.set_start_method("spawn", force=True)
    cli.run(lambda: main(get_args_parser().parse_args()))
