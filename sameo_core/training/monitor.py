"""Progress bar (loss, it/s, ETA) and TensorBoard scalars, on the main rank only."""

from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm


class Monitor:
    def __init__(
        self, out_dir: Path, start: int, total: int, enabled: bool, progress: bool, log_every: int
    ) -> None:
        self.enabled = enabled
        self.log_every = max(1, log_every)
        self.bar = tqdm(total=total, initial=start, disable=not (enabled and progress),
                        dynamic_ncols=True, desc="train", mininterval=2.0)  # fmt: skip
        self.writer = None
        self.log_path = out_dir / "log.jsonl"
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out_dir / "tb"), purge_step=start or None)

    def step(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{metrics['loss']:.4f}", iou=f"{metrics.get('iou', 0):.3f}")
        if step % self.log_every == 0:
            self.scalars("train", step, metrics)

    def scalars(self, prefix: str, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        for key, value in metrics.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)
        record = {"step": step, "split": prefix, **{k: round(v, 6) for k, v in metrics.items()}}
        if "it/s" not in record and self.bar.format_dict.get("rate"):
            record["it/s"] = round(self.bar.format_dict["rate"], 3)
        with self.log_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def record(self, split: str, step: int, fields: dict[str, object]) -> None:
        """One JSON line in log.jsonl (no TensorBoard scalar): facts such as data counts."""
        if not self.enabled:
            return
        with self.log_path.open("a") as handle:
            handle.write(json.dumps({"step": step, "split": split, **fields}) + "\n")

    def message(self, text: str) -> None:
        if self.enabled:
            self.bar.write(text)

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.writer.close()
