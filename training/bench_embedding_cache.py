"""Benchmark: training steps with a frozen encoder, image embeddings computed vs cached on disk.

::

    python -m training.bench_embedding_cache \\
        --source amodal_coco:runs/heldout_shapes/annotations.json --variant vitt \\
        --images 12 --steps 3 --batch-size 8 --json runs/bench_cache.json

Times ``--steps`` decoder-training steps (paper recipe: encoder frozen) on the first ``--images``
images of the source, first running the encoder at every step, then reading embeddings from a
fresh cache (the one-off cache fill is timed separately). Prints and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.training.embedding_cache import EmbeddingCache, encoder_fingerprint, fill
from sameo_core.training.engine import train_one_epoch
from sameo_core.training.losses import PAPER_WEIGHTS, SameoCriterion
from sameo_core.training.recipe import DataSpec
from sameo_core.training.sources import open_source
from sameo_core.training.stream import StepBatches
from sameo_core.training.wrapper import SameoTrainer, set_trainable


def _time_steps(trainer, optimizer, batches, device, embeddings_for=None) -> float:
    start = time.perf_counter()
    train_one_epoch(trainer, SameoCriterion(), PAPER_WEIGHTS, optimizer, batches, device,
                    embeddings_for=embeddings_for)  # fmt: skip
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="FORMAT:PATH of a stored amodal dataset")
    p.add_argument("--variant", default="vitt")
    p.add_argument("--images", type=int, default=12)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    source = open_source(args.source)
    source.groups = source.groups[: args.images]
    model = build_sameo(variant=args.variant)
    optimizer = torch.optim.Adam(set_trainable(model, False, False), lr=1e-4)
    trainer = SameoTrainer(model)
    spec = DataSpec(max_instances_per_image=4)
    size = model.config
    stream = StepBatches([source], spec, args.batch_size, size.img_size, size.low_res_size, 0)
    batches = [(s, stream[s]) for s in range(args.steps + 1)]  # step 0 warms up
    _time_steps(trainer, optimizer, batches[:1], device)
    computed = _time_steps(trainer, optimizer, batches[1:], device)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(tmp, encoder_fingerprint(model))
        start = time.perf_counter()
        added = fill(cache, [source], model, device)
        fill_s = time.perf_counter() - start
        cached = _time_steps(trainer, optimizer, batches[1:], device,
                             lambda b: cache.load(b.keys, device))  # fmt: skip
    result = {
        "variant": args.variant, "img_size": size.img_size, "instances_per_step": args.batch_size,
        "images_per_step": sum(len(b.images) for _, b in batches[1:]) / args.steps,
        "steps": args.steps, "threads": args.threads, "s_per_step_computed": computed,
        "s_per_step_cached": cached, "speedup": computed / cached,
        "cache_fill_s_per_image": fill_s / max(added, 1),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli.run(main)
