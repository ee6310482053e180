"""Export the weights of a training run as a small inference checkpoint.

::

    python -m training.export_checkpoint runs/cpu_shapes/model_final.pt \\
        checkpoints/demo/sameo_shapes_demo.pt --half --note "trained on synthetic shapes only"

Keeps ``{"model", "sameo"}`` (weights and the config that ``build_sameo(checkpoint=...)``
reads), drops optimizer and RNG state; ``--half`` stores floating tensors as float16 (they are
loaded back into float32 parameters).

``--order-head FILE`` adds the optional pairwise order head trained by
``training.train_order_head`` (its ``order_head.pt``) to a checkpoint with a modal head; every
other weight is written exactly as read (a source that has an order head already gets the new
one in its place)::

    python -m training.export_checkpoint checkpoints/demo/sameo_shapes_demo.pt \
        checkpoints/demo/sameo_shapes_demo.pt --order-head runs/order_head/order_head.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sameo_core.model.checkpoint import (
    MODAL_PREFIX,
    CheckpointError,
    atomic_save,
    read_checkpoint,
)
from sameo_core.model.order_head import ORDER_PREFIX, OrderHead
from sameo_core.tools import cli


def order_head_weights(path: Path) -> dict:
    """The `order_head.*` weights of a `training.train_order_head` file, checked strictly
    against `OrderHead`."""
    state, _ = read_checkpoint(path)
    expected = {ORDER_PREFIX + k: v for k, v in OrderHead().state_dict().items()}
    other = sorted(k for k in state if not k.startswith(ORDER_PREFIX))
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in expected if k in state and state[k].shape != expected[k].shape)
    if other or missing or wrong:
        raise CheckpointError(f"{path} is not an order head: other keys {other[:5]}, missing "
                              f"{missing[:5]}, mis-shaped {wrong[:5]}")  # fmt: skip
    return {k: state[k] for k in expected}


def export(src: Path, dst: Path, half: bool, note: str, order_head: Path | None = None) -> dict:
    state, meta = read_checkpoint(src)
    if "config" not in meta:
        raise CheckpointError(f"{src} is not a SAMEO checkpoint with weights and config")
    weights = {k: v.half() if half and v.is_floating_point() else v
               for k, v in state.items()}  # fmt: skip
    meta = {k: v for k, v in meta.items() if k != "train_config"}
    if order_head is not None:
        if not any(k.startswith(MODAL_PREFIX) for k in state):
            raise CheckpointError(f"{src} has no modal head, whose masks the order head reads")
        head = order_head_weights(order_head)
        weights = {k: v for k, v in weights.items() if not k.startswith(ORDER_PREFIX)}
        weights.update({k: v.half() if half else v for k, v in head.items()})
        heads = [h for h in meta.get("heads", ["amodal", "modal"]) if h != "order"]
        meta["heads"] = [*heads, "order"]
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
    p.add_argument("--order-head", type=Path, help="add this order head (training."
                   "train_order_head's order_head.pt)")  # fmt: skip
    args = p.parse_args()
    meta = export(args.src, args.dst, args.half, args.note, args.order_head)
    print(f"wrote {args.dst} ({args.dst.stat().st_size / 1e6:.2f} MB), step {meta.get('step')}")


if __name__ == "__main__":
    cli.run(main)
