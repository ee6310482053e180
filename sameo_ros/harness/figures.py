"""Print a benchmark's figures one per line and optionally write them as JSON."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch


def machine() -> dict[str, object]:
    """What the figures were measured on (BENCHMARKS.md records it with each table)."""
    return {
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average": os.getloadavg()[0],
    }


def report(figures: dict[str, object], json_path: Path | None) -> None:
    for name, value in figures.items():
        print(f"{name:40s} {value:.3f}" if isinstance(value, float) else f"{name:40s} {value}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
