"""The paper's quality filters (section 3.2), each switchable and counted.

- `min_visible_fraction`: drop instances whose visible area is < 10% of the amodal area;
- `max_image_fraction`: drop instances whose amodal mask covers > 90% of the image;
- `drop_stuff`: drop stuff / architectural annotations: COCOA's `isStuff` flag, or a category
  name in `stuff_names` (walls, floors, ceilings... compared lower-case, whitespace-stripped).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sameo_core.data import rle as rle_utils
from sameo_core.data.records import InstanceRecord

STUFF_NAMES: frozenset[str] = frozenset(
    {
        "wall", "walls", "floor", "floors", "ceiling", "ceilings", "roof", "door frame",
        "window frame", "stairs", "staircase", "column", "pillar", "beam", "ground", "road",
        "sidewalk", "pavement", "grass", "sky", "building", "house", "fence", "rug", "carpet",
        "stuff", "background", "room", "baseboard", "tile", "tiles", "wallpaper",
    }
)  # fmt: skip


@dataclass(frozen=True)
class FilterConfig:
    min_visible_fraction: float | None = 0.10  # None switches the filter off
    max_image_fraction: float | None = 0.90
    drop_stuff: bool = True
    stuff_names: frozenset[str] = STUFF_NAMES

    def __post_init__(self) -> None:
        for name in ("min_visible_fraction", "max_image_fraction"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1] or None, got {value}")


@dataclass(frozen=True)
class FilterReport:
    kept: int
    removed: dict[str, int]  # filter name → instances it removed (first failing filter wins)

    def summary(self) -> str:
        return f"kept {self.kept}, removed {dict(sorted(self.removed.items()))}"


def _checks(cfg: FilterConfig) -> list[tuple[str, Callable[[InstanceRecord], bool]]]:
    """(name, predicate returning True when the record must go) for each enabled filter."""
    checks: list[tuple[str, Callable[[InstanceRecord], bool]]] = []
    if cfg.drop_stuff:
        names = {n.strip().lower() for n in cfg.stuff_names}
        checks.append(
            ("stuff", lambda r: r.is_stuff or (r.category_name or "").strip().lower() in names)
        )
    if cfg.max_image_fraction is not None:
        limit = cfg.max_image_fraction
        checks.append(
            ("large", lambda r: rle_utils.area(r.amodal_rle) > limit * r.height * r.width)
        )
    if cfg.min_visible_fraction is not None:
        low = cfg.min_visible_fraction
        checks.append(
            # on the areas, not 1 - occlusion_rate: exactly 10% visible must stay
            (
                "low_visible",
                lambda r: rle_utils.area(r.visible_rle) < low * rle_utils.area(r.amodal_rle),
            )
        )
    return checks


def apply_filters(
    records: Iterable[InstanceRecord], cfg: FilterConfig | None = None
) -> tuple[list[InstanceRecord], FilterReport]:
    """The records that pass every enabled filter, and how many each filter removed."""
    checks = _checks(cfg or FilterConfig())
    removed: Counter[str] = Counter({name: 0 for name, _ in checks})
    kept: list[InstanceRecord] = []
    for rec in records:
        failed = next((name for name, drop in checks if drop(rec)), None)
        if failed is None:
            kept.append(rec)
        else:
            removed[failed] += 1
    return kept, FilterReport(len(kept), dict(removed))
