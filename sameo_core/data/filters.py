"""The paper's quality filters (section 3.2), each switchable and counted.

Each filter has a name (the key of `FilterReport.removed`, of `training.dataset_stats --filter`
and of the training config's `data.filters`):

- `low_visible` (`min_visible_fraction`): drop instances whose visible area is < 10% of the
  amodal area (paper: DYCE, MP3D-amodal);
- `large` (`max_image_fraction`): drop instances whose amodal mask covers > 90% of the image
  (paper: DYCE, MP3D-amodal);
- `stuff` (`drop_stuff`): drop stuff / architectural annotations: COCOA's `isStuff` flag, or a
  category name in `stuff_names` (walls, floors, ceilings... compared lower-case,
  whitespace-stripped) (paper: COCOA and the other datasets with classes, DYCE, MP3D-amodal);
- `heavy_occlusion` (`max_occlusion`): drop instances hidden more than `max_occlusion` (paper:
  WALT, whose layer-by-layer compositing buries some objects unrealistically deep). The paper
  gives no threshold; ours is `DEFAULT_MAX_OCCLUSION` = 0.8: if the occlusion rates that pass
  were spread evenly up to the threshold, WALT*'s Table-1 average ROR of 36.5 % would put it at
  0.73, and any distribution that thins out towards heavy occlusion at a higher value; 0.8 also
  stays below the 0.9 that `low_visible` removes anyway, so the filter has an effect of its own.

`DEFAULT_FILTERS` holds the paper's choice per dataset format (README.md, "Data").
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


FILTER_NAMES: tuple[str, ...] = ("low_visible", "large", "stuff", "heavy_occlusion")
SECTION_3_2_FILTERS: tuple[str, ...] = ("low_visible", "large", "stuff")  # DYCE, MP3D-amodal
DEFAULT_MAX_OCCLUSION = 0.8  # heavy_occlusion threshold; why this value: module docstring

# The paper's filters per reader format, where the format alone identifies the dataset. COCOA
# "(no stuff)" drops stuff; WALT drops heavy occlusion; COCOA-cls, D2SA and KINS are used as
# released (Table 1 counts them unfiltered). MP3D-amodal comes in the COCOA format and DYCE in
# an amodal-COCO one: give them SECTION_3_2_FILTERS explicitly.
DEFAULT_FILTERS: dict[str, tuple[str, ...]] = {"cocoa": ("stuff",), "walt": ("heavy_occlusion",)}


@dataclass(frozen=True)
class FilterConfig:
    min_visible_fraction: float | None = 0.10  # None switches the filter off
    max_image_fraction: float | None = 0.90
    drop_stuff: bool = True
    stuff_names: frozenset[str] = STUFF_NAMES
    max_occlusion: float | None = None  # heavy_occlusion; off unless asked for (WALT)

    def __post_init__(self) -> None:
        for name in ("min_visible_fraction", "max_image_fraction", "max_occlusion"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1] or None, got {value}")

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the enabled filters, in `FILTER_NAMES` order."""
        enabled = {
            "low_visible": self.min_visible_fraction is not None,
            "large": self.max_image_fraction is not None,
            "stuff": self.drop_stuff,
            "heavy_occlusion": self.max_occlusion is not None,
        }
        return tuple(name for name in FILTER_NAMES if enabled[name])


def filter_config(
    names: Iterable[str],
    *,
    min_visible_fraction: float = 0.10,
    max_image_fraction: float = 0.90,
    max_occlusion: float = DEFAULT_MAX_OCCLUSION,
) -> FilterConfig:
    """A config with exactly the filters `names` enabled, at the given thresholds."""
    names = tuple(names)
    unknown = sorted(set(names) - set(FILTER_NAMES))
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown}; known: {', '.join(FILTER_NAMES)}")
    return FilterConfig(
        min_visible_fraction=min_visible_fraction if "low_visible" in names else None,
        max_image_fraction=max_image_fraction if "large" in names else None,
        drop_stuff="stuff" in names,
        max_occlusion=max_occlusion if "heavy_occlusion" in names else None,
    )


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
    if cfg.max_occlusion is not None:
        high = cfg.max_occlusion
        checks.append(("heavy_occlusion", lambda r: r.occlusion_rate > high))
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
