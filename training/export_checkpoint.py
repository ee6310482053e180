"""Export the weights of a training run as a small inference checkpoint.

::

    python -m training.export_checkpoint runs/cpu_shapes/model_final.pt \\
        checkpoints/demo/sameo_shapes_demo.pt --half --note "trained on synthetic shapes only"

Keeps ``{"model", "sameo"}`` (weights and the config that ``build_sameo(checkpoint=...)``
reads), drops optimizer and RNG state; ``--half`` stores floating tensors as float16 (they are
loaded back into float32 parameters).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sameo_core.model.checkpoint import CheckpointError, atomic_save, read_checkpoint
from sameo_core.tools import cli


def export(src: Path, dst: Path, half: bool, note: str) -> dict:
    state, meta = read_checkpoint(src)
    if "config" not in meta:
        raise CheckpointError(f"{src} is not a SAMEO checkpoint with weights and config")
    weights = {k: v.half() if half and v.is_floating_point() else v
               for k, v in state.items()}  # fmt: skip
    meta = {k: v for k, v in meta.items() if k != "train_config"}
    if note:
        meta["note"] = note
    atomic_save({"model": weights, "sameo": meta}, dst)
    return meta


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--half", action="store_true", help="store float tensors as float16")
    p.add_argument("--note", default="", help="free text kept in the checkpoint metadata")
    args = p.parse_args()
    meta = export(args.src, args.dst, args.half, args.note)
    print(f"wrote {args.dst} ({args.dst.stat().st_size / 1e6:.2f} MB), step {meta.get('step')}")


if __name__ == "__main__":
    cli.run(main)
