"""Table-1 statistics of an amodal dataset (paper, section 3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sameo_core.data.records import InstanceRecord


@dataclass(frozen=True)
class DatasetStats:
    name: str
    instances: int
    images: int  # images with at least one instance
    poi: float  # % of instances whose modal mask differs from the amodal mask
    avg_ror: float  # mean occluded share (%) of the amodal area, occluded instances only

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def dataset_stats(name: str, records: Sequence[InstanceRecord]) -> DatasetStats:
    occluded = [r.occlusion_rate for r in records if r.is_occluded]
    n = len(records)
    return DatasetStats(
        name=name,
        instances=n,
        images=len({(r.source, r.image_id) for r in records}),
        poi=100.0 * len(occluded) / n if n else 0.0,
        avg_ror=100.0 * sum(occluded) / len(occluded) if occluded else 0.0,
    )


def format_table(rows: Sequence[DatasetStats]) -> str:
    width = max([len("Dataset"), *(len(r.name) for r in rows)])
    header = f"{'Dataset':<{width}} {'# Instances':>12} {'# Images':>9} {'POI (%)':>8} "
    header += f"{'Avg ROR (%)':>12}"
    lines = [header, "-" * len(header)]
    lines += [
        f"{r.name:<{width}} {r.instances:>12} {r.images:>9} {r.poi:>8.1f} {r.avg_ror:>12.1f}"
        for r in rows
    ]
    return "\n".join(lines)
