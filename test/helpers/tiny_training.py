"""A few-second CPU training configuration for the training tests (test/training)."""

from __future__ import annotations

from pathlib import Path


def tiny_overrides(out_dir: Path, steps: int, **extra: object) -> list[str]:
    """`key=value` overrides that make any training config a few-second CPU run."""
    values = {
        "model.variant": "test",
        "model.config": "{}",
        "model.train_image_encoder": "true",
        "model.train_prompt_encoder": "true",
        "data.sources": "[shapes]",
        "data.shapes_image_size": 64,
        "data.num_workers": 0,
        "optim.batch_size": 4,
        "optim.lr": 1e-3,
        "run.out_dir": str(out_dir),
        "run.steps": steps,
        "run.ckpt_every": steps,
        "run.val_every": steps,
        "run.threads": 1,
        "run.deterministic": "true",
        "run.log_every": 1,
        "run.progress": "false",
        **extra,
    }
    return [f"{k}={v}" for k, v in values.items()]
