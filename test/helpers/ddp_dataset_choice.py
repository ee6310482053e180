"""Run under ``torch.distributed.run`` (gloo): which dataset each rank's batch of each step
comes from, through the training command's own batch construction (``training.train``).

    python -m torch.distributed.run --nproc_per_node 2 test/helpers/ddp_dataset_choice.py \\
        OUT.json STEPS SPEC [SPEC ...]

Rank 0 writes ``{"datasets": [[rank 0's, rank 1's] per step], "keys": [...]}``, where a batch's
dataset is the set of prefixes of its image keys (``FORMAT/image_id``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch.distributed as dist

from sameo_core.model import build_sameo
from sameo_core.training.distributed import cleanup_distributed, init_distributed, per_rank_batch
from sameo_core.training.recipe import load_config
from training.train import _batches


def main(out: str, steps: int, specs: list[str]) -> None:
    cfg = load_config(None, [f"data.sources=[{', '.join(specs)}]", "optim.batch_size=4",
                             "data.max_instances_per_image=1"])  # fmt: skip
    info = init_distributed("cpu")
    batches = _batches(cfg, build_sameo("test"), info.rank,
                       per_rank_batch(cfg.optim.batch_size, info), cfg.run.seed)  # fmt: skip
    mine = []
    for step in range(steps):
        keys = batches[step].keys
        mine.append({"datasets": sorted({k.split("/")[0] for k in keys}), "keys": list(keys)})
    everyone: list = [None] * info.world_size
    dist.all_gather_object(everyone, mine)
    if info.is_main:
        per_step = [[rank[s] for rank in everyone] for s in range(steps)]
        Path(out).write_text(json.dumps({
            "datasets": [[r["datasets"] for r in ranks] for ranks in per_step],
            "keys": [[r["keys"] for r in ranks] for ranks in per_step]}))  # fmt: skip
    cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
