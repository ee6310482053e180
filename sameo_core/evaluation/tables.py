"""Evaluation output: a markdown table, a JSON-ready dict and a precision-recall plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sameo_core.evaluation.coco_eval import MaskEvalResult

METRICS = ("AP", "AP50", "AP75", "AR100")


def markdown_table(rows: dict[str, dict[str, float]], columns: tuple[str, ...] = METRICS) -> str:
    """One row per named evaluation; values in percent with one decimal (as the paper)."""
    header = "| evaluation | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    lines = [header, rule]
    for name, stats in rows.items():
        cells = [_cell(stats.get(c)) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0:  # COCOeval's "no ground truth" marker
        return "n/a"
    return f"{100 * value:.1f}"


def precision_recall_plot(
    curves: dict[str, MaskEvalResult], path: str | Path, title: str = "SAMEO amodal masks"
) -> None:
    """Precision vs recall at IoU 0.50, 0.75 and averaged over .50:.95, one line per curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, (label, select) in zip(axes, _IOU_VIEWS.items()):
        for name, result in curves.items():
            precision = np.where(select(result.precision) < 0, np.nan, select(result.precision))
            ax.plot(result.recall_thresholds, precision, label=name)
        ax.set_title(f"{title}: {label}")
        ax.set_xlabel("recall")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision")
    axes[-1].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _mean_valid(precision: np.ndarray) -> np.ndarray:
    masked = np.where(precision < 0, np.nan, precision)
    return np.nanmean(masked, axis=0) if np.isfinite(masked).any() else masked[0]


_IOU_VIEWS: dict[str, Any] = {
    "IoU 0.50": lambda p: p[0],
    "IoU 0.75": lambda p: p[5],
    "IoU .50:.95": _mean_valid,
}
