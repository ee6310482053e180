"""Train the optional pairwise order head on top of a frozen SAMEO network with a modal head.

::

    python -m training.train_order_head --config config/order_head.yaml [key=value ...]

Writes to ``out_dir``: ``cache.pt`` (the frozen model's low-resolution outputs of every scene,
reused by a later run with the same ``checkpoint`` and ``data`` settings), ``order_head.pt``
(``{"order_head": state_dict, "sameo_order_head": {...}}``, the head's weights only),
``config.yaml`` and ``log.jsonl``. ``training.export_checkpoint --order-head`` adds the head to
a SAMEO checkpoint. What is cached and how the head is trained:
``sameo_core/training/order_head_training.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import CheckpointError, atomic_save
from sameo_core.model.order_head import OrderHead
from sameo_core.tools import cli
from sameo_core.training.order_head_training import (
    OrderTrainConfig,
    cache_scenes,
    pair_accuracy,
    pooled_pairs,
    train_head,
)
from sameo_core.training.recipe import load_config


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True,
                   help="YAML (e.g. config/order_head.yaml)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. optim.steps=100")
    return p


def _cache(cfg: OrderTrainConfig, out: Path, model) -> list[dict]:
    path = out / "cache.pt"
    key = {"checkpoint": cfg.checkpoint, "data": cfg.to_dict()["data"]}
    if path.is_file():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored.get("key") == json.loads(json.dumps(key)):
            print(f"reusing {path} ({len(stored['entries'])} scenes)")
            return stored["entries"]
    entries = cache_scenes(model, cfg.data, progress=lambda it: tqdm(it, "scenes"))
    atomic_save({"key": json.loads(json.dumps(key)), "entries": entries}, path)
    return entries


def main() -> dict:
    args = get_args_parser().parse_args()
    cfg = load_config(args.config, args.overrides, OrderTrainConfig)
    if cfg.threads < 1:
        raise ValueError(f"threads must be >= 1, got {cfg.threads}")
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    model = build_sameo(checkpoint=cfg.checkpoint)
    if not model.has_modal_head:
        raise CheckpointError(f"{cfg.checkpoint} has no modal head: the order head reads both "
                              "heads' outputs")  # fmt: skip
    entries = _cache(cfg, out, model)
    split = len(entries) - round(cfg.data.holdout * len(entries))
    pooling = OrderHead()
    patches, labels = pooled_pairs(pooling, entries[:split])
    held_patches, held_labels = pooled_pairs(pooling, entries[split:])
    print(f"{len(entries)} scenes: {len(labels)} training pairs, {len(held_labels)} held out")
    log_path = out / "log.jsonl"
    log_path.write_text("")

    def log(record: dict) -> None:
        print(json.dumps(record))
        with log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    head = train_head(patches, labels, cfg.optim, cfg.seed, held_patches, held_labels, log)
    summary = {"train_pairs": len(labels), "holdout_pairs": len(held_labels),
               "train_accuracy": pair_accuracy(head, patches, labels),
               "holdout_accuracy": pair_accuracy(head, held_patches, held_labels),
               "parameters": sum(p.numel() for p in head.parameters())}  # fmt: skip
    atomic_save({"order_head": head.state_dict(),
                 "sameo_order_head": {"frozen_checkpoint": cfg.checkpoint, **summary}},
                out / "order_head.pt")  # fmt: skip
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    cli.run(main)
