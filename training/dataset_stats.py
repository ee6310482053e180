"""Table-1 statistics (paper, section 3.2) of one or more amodal datasets.

    python -m training.dataset_stats FORMAT:PATH [FORMAT:PATH ...] [--filter [NAME ...]]
        [--min-visible 0.1] [--max-image-share 0.9] [--max-occlusion 0.8] [--json OUT]

FORMAT is a reader name from `sameo_core.data.registry.READERS` (cocoa, cocoa_cls, d2sa, kins,
kins2020, walt, amodal_coco, coco_instances); PATH is an annotation file, or for `cocoa` also a
directory of per-image JSON files. Prints one row per dataset: # instances, # images (images with
at least one instance), POI % and average ROR % (occluded instances only). Dropped or repaired
annotations are reported on stderr. `--filter NAME ...` applies the named quality filters
(`low_visible`, `large`, `stuff`, `heavy_occlusion`; see `sameo_core.data.filters`) first, and
what each removed goes to stderr; `--filter` alone applies the three of section 3.2
(`low_visible large stuff`). The Table-1 variants:

    python -m training.dataset_stats cocoa:COCO_amodal_train2014.json --filter stuff  # "no stuff"
    python -m training.dataset_stats walt:WALT.json --filter heavy_occlusion          # WALT*
    python -m training.dataset_stats cocoa:MP3D_amodal.json --filter low_visible large stuff

`--json OUT` writes the rows as a list of {name, instances, images, poi, avg_ror, filters}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sameo_core.data.filters import (
    DEFAULT_MAX_OCCLUSION,
    FILTER_NAMES,
    SECTION_3_2_FILTERS,
    FilterConfig,
    apply_filters,
    filter_config,
)
from sameo_core.data.registry import parse_spec, read_dataset
from sameo_core.data.table1 import DatasetStats, dataset_stats, format_table
from sameo_core.tools import cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("datasets", nargs="+", metavar="FORMAT:PATH")
    p.add_argument("--image-root", type=Path, default=None, help="where the images live")
    p.add_argument("--filter", nargs="*", choices=FILTER_NAMES, default=None, metavar="NAME",
                   help=f"apply these filters ({', '.join(FILTER_NAMES)}); alone: "
                   f"{' '.join(SECTION_3_2_FILTERS)}")  # fmt: skip
    p.add_argument("--min-visible", type=float, default=0.10, help="low_visible threshold")
    p.add_argument("--max-image-share", type=float, default=0.90, help="large threshold")
    p.add_argument("--max-occlusion", type=float, default=DEFAULT_MAX_OCCLUSION,
                   help="heavy_occlusion threshold")  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    return p


def _row(spec: str, image_root: Path | None, filters: FilterConfig | None) -> DatasetStats:
    fmt, path = parse_spec(spec)
    result = read_dataset(fmt, path, image_root)
    print(result.report.summary(), file=sys.stderr)
    if filters is None:
        return dataset_stats(spec, result.records)
    records, freport = apply_filters(result.records, filters)
    names = " ".join(filters.names)
    print(f"{fmt}: filters {names}: {freport.summary()}", file=sys.stderr)
    return dataset_stats(f"{spec} [{names}]", records)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    filters = None
    if args.filter is not None:
        filters = filter_config(args.filter or SECTION_3_2_FILTERS,
                                min_visible_fraction=args.min_visible,
                                max_image_fraction=args.max_image_share,
                                max_occlusion=args.max_occlusion)  # fmt: skip
    rows = [_row(spec, args.image_root, filters) for spec in args.datasets]
    print(format_table(rows))
    if args.json is not None:
        names = list(filters.names) if filters is not None else []
        out = [{**r.as_dict(), "filters": names} for r in rows]
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    cli.run(main)
