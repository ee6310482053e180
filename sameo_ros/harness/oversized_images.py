"""Peak memory and time of `conversions.to_rgb` on oversized compressed images (decompression
bombs), before and after the pixel bound, side by side in one run.

  python -m sameo_ros.harness.oversized_images [--before /work/base] [--json out/bombs.json]

Each case runs in a fresh Python process per code tree (`--before` and this checkout, taking
turns case by case), which imports `sameo_ros.conversions` of that tree, reads the image bytes
from a file and calls `to_rgb` on a CompressedImage of them with its default bound. Figures: the
outcome (the decoded size, or the error), wall time of a call (ms; the median of 5 calls, or of
those made in 2 s: a bomb is called once), the process's peak resident memory (VmHWM) and its
growth during the calls, and where the tree has one, the time `image_formats.read_header` takes
on the bytes (best of 5 x 100 calls, µs). A child may use
at most `--memory-limit-gb` of address space, so a bomb cannot take the machine down. Cases:
PNGs of zeros of 30000^2 and 20000^2 pixels (~0.9 and ~0.4 MB, deflate's ~1000:1), a 625-byte
JPEG whose frame header claims 30000^2 pixels with no scan data (libjpeg fills the missing data
with grey), and, for scale, a PNG and a JPEG of 4096^2 (the default bound, accepted).
BENCHMARKS.md, "ROS node", "Oversized images (decompression bombs)".
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from sameo_core.tools import cli

from .figures import machine, report

REPO = Path(__file__).resolve().parents[2]

# The child: argv = code root, image file, address-space limit in bytes. Prints one JSON line.
CHILD = r"""
import json, resource, sys, time, timeit
from types import SimpleNamespace
root, path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, root)
from sameo_ros import conversions
data = open(path, "rb").read()
msg = SimpleNamespace(format="png" if data.startswith(b"\x89PNG") else "jpeg", data=data)
def kib():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over exec)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])
before = kib()
times = []
while len(times) < 5 and sum(times) < 2.0:  # a bomb once, anything quick five times
    start = time.perf_counter()
    try:
        out = conversions.to_rgb(msg)
        outcome = "decoded %dx%d" % (out.shape[1], out.shape[0])
    except Exception as error:
        outcome = "refused: %s: %s" % (type(error).__name__, " ".join(str(error).split())[:160])
    times.append(time.perf_counter() - start)
    out = None
figures = {"module": conversions.__file__, "outcome": outcome,
           "ms": sorted(times)[len(times) // 2] * 1000.0, "calls": len(times),
           "peak_mb": kib() / 1024.0, "growth_mb": (kib() - before) / 1024.0}
read_header = getattr(conversions, "read_header", None)  # the header reader, where there is one
if read_header is not None:
    pixels = conversions.byte_view(data)
    best = min(timeit.repeat(lambda: read_header(pixels), number=100, repeat=5))
    figures["header_read_us"] = best / 100 * 1e6
print(json.dumps(figures))
"""


def zeros_png(side: int) -> bytes:
    """A valid 8-bit grey PNG of side x side zeros, compressed row by row (never held whole)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    deflate, row = zlib.compressobj(9), bytes(side + 1)  # filter byte 0, then the pixels
    idat = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))  # fmt: skip


def header_only_jpeg(side: int) -> bytes:
    """A 16x16 JPEG whose frame header is changed to side x side, cut after its scan header:
    OpenCV decodes it into a side x side image of grey."""
    ok, jpeg = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    data = jpeg.tobytes()
    sof = data.index(b"\xff\xc0")
    data = data[: sof + 5] + struct.pack(">HH", side, side) + data[sof + 9 :]
    sos = data.index(b"\xff\xda")
    return data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")] + b"\xff\xd9"


def gradient_jpeg(side: int) -> bytes:
    y, x = np.mgrid[0:side, 0:side]
    image = np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


CASES: dict[str, Callable[[], bytes]] = {
    "png_zeros_30000x30000": lambda: zeros_png(30000),
    "png_zeros_20000x20000": lambda: zeros_png(20000),
    "jpeg_header_30000x30000": lambda: header_only_jpeg(30000),
    "png_zeros_4096x4096": lambda: zeros_png(4096),
    "jpeg_4096x4096": lambda: gradient_jpeg(4096),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, help="another code tree to measure beside this one "
                   "(e.g. /work/base, main before the bound)")  # fmt: skip
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    p.add_argument("--memory-limit-gb", type=float, default=16.0,
                   help="address-space limit of each child process")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def run_child(root: Path, image: Path, limit_bytes: int) -> dict[str, object]:
    """One to_rgb call in a fresh process on the code of `root`."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(image), str(limit_bytes)],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"outcome": f"process failed ({done.returncode}): {done.stderr.strip()[-300:]}"}
    figures = json.loads(lines[-1])
    module = Path(str(figures.pop("module"))).resolve()
    if not module.is_relative_to(root.resolve()):
        raise ValueError(f"{root}: the child imported {module}, not that tree's conversions")
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    roots = {"after": REPO}
    if args.before is not None:
        if not (args.before / "sameo_ros" / "conversions.py").is_file():
            raise ValueError(f"--before {args.before}: no sameo_ros/conversions.py there")
        roots = {"before": args.before, **roots}
    limit = int(args.memory_limit_gb * 2**30)
    figures: dict[str, object] = {**machine(), "memory_limit_gb": args.memory_limit_gb}
    with tempfile.TemporaryDirectory() as folder:
        for case in args.cases:
            image = Path(folder) / case
            image.write_bytes(CASES[case]())
            figures[f"{case}/bytes"] = image.stat().st_size
            for label, root in roots.items():  # the trees take turns, case by case
                for name, value in run_child(root, image, limit).items():
                    figures[f"{case}/{label}/{name}"] = value
            image.unlink()
    report(figures, args.json)


if __name__ == "__main__":
    cli.run(main)
