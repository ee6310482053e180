"""Table-1 statistics (paper, section 3.2) of one or more amodal datasets.

    python -m training.dataset_stats FORMAT:PATH [FORMAT:PATH ...] [--filter] [--json OUT]

FORMAT is a reader name from `sameo_core.data.registry.READERS` (cocoa, cocoa_cls, d2sa, kins,
kins2020, walt, amodal_coco, coco_instances); PATH is an annotation file, or for `cocoa` also a
directory of per-image JSON files. Prints one row per dataset: # instances, # images (images with
at least one instance), POI % and average ROR % (occluded instances only). Dropped or repaired
annotations are reported on stderr. `--filter` applies the paper's quality filters first.
`--json OUT` writes the rows as a list of {name, instances, images, poi, avg_ror}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sameo_core.data.filters import FilterConfig, apply_filters
from sameo_core.data.registry import parse_spec, read_dataset
from sameo_core.data.table1 import DatasetStats, dataset_stats, format_table
from sameo_core.tools import cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("datasets", nargs="+", metavar="FORMAT:PATH")
    p.add_argument("--image-root", type=Path, default=None, help="where the images live")
    p.add_argument("--filter", action="store_true", help="apply the section-3.2 filters")
    p.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    return p


def _row(spec: str, image_root: Path | None, use_filters: bool) -> DatasetStats:
    fmt, path = parse_spec(spec)
    result = read_dataset(fmt, path, image_root)
    print(result.report.summary(), file=sys.stderr)
    records = result.records
    if use_filters:
        records, freport = apply_filters(records, FilterConfig())
        print(f"{fmt}: filters {freport.summary()}", file=sys.stderr)
    return dataset_stats(spec, records)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rows = [_row(spec, args.image_root, args.filter) for spec in args.datasets]
    print(format_table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    cli.run(main)
