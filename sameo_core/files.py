"""Atomic file writes: a reader sees the old file or the complete new one, never a torn one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(
    path: str | Path, write: Callable[[BinaryIO], None], durable: bool = True
) -> None:
    """Call `write(handle)` on a temporary file next to `path`, then rename it over `path`.

    The temporary file is named `.NAME.XXXXXX.tmp` in the same folder (so the rename never
    crosses file systems, and leftovers of a killed process are easy to find) and removed on
    failure. `durable` also fsyncs the data before the rename (checkpoints); bulk data that can
    be regenerated may skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """`data` written to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(data), durable)
