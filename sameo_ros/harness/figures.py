"""Print a benchmark's figures one per line and optionally write them as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def report(figures: dict[str, object], json_path: Path | None) -> None:
    for name, value in figures.items():
        print(f"{name:36s} {value:.3f}" if isinstance(value, float) else f"{name:36s} {value}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
