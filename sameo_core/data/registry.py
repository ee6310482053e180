"""FORMAT name → reader, and the `FORMAT:PATH` spelling the command-line tools use."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from sameo_core.data.coco_readers import SCHEMAS, read_coco_like
from sameo_core.data.cocoa_raw import read_cocoa
from sameo_core.data.read_report import ReadResult

Reader = Callable[..., ReadResult]  # (path, image_root=None) -> ReadResult

READERS: dict[str, Reader] = {"cocoa": read_cocoa}
READERS.update({name: partial(read_coco_like, schema) for name, schema in SCHEMAS.items()})


def has_visible_masks(fmt: str) -> bool:
    """Whether files of format `fmt` annotate visible masks (all but `coco_instances`; raw
    COCOA stores them for occluded regions only, which says the others are unoccluded)."""
    schema = SCHEMAS.get(fmt)
    return schema.has_visible if schema is not None else fmt in READERS


def read_dataset(fmt: str, path: str | Path, image_root: str | Path | None = None) -> ReadResult:
    """Read `path` with the reader registered as `fmt`."""
    if fmt not in READERS:
        raise ValueError(f"unknown dataset format {fmt!r}; known: {', '.join(sorted(READERS))}")
    return READERS[fmt](Path(path), Path(image_root) if image_root else None)


def parse_spec(spec: str) -> tuple[str, Path]:
    """'FORMAT:PATH' → (format, path), with a clear error for a malformed spec."""
    fmt, sep, path = spec.partition(":")
    if not sep or not fmt or not path:
        raise ValueError(f"expected FORMAT:PATH, got {spec!r}")
    if fmt not in READERS:
        raise ValueError(f"unknown dataset format {fmt!r}; known: {', '.join(sorted(READERS))}")
    return fmt, Path(path)
