"""Point the CMake exports of the pip ROS 2 wheels at this interpreter's headers.

The ros-python-wheels builds hard-code the include directories of the machine that built them
(/opt/python/cp311-cp311/...) in their share/*/cmake/*.cmake files; message generation against them
fails until those paths name this venv's Python and numpy headers. Idempotent.
Usage: python test/ros/tools/fix_wheel_cmake.py VENV_PREFIX
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import numpy

BUILT_AT = "/opt/python/cp311-cp311"


def replacements() -> dict[str, str]:
    return {
        f"{BUILT_AT}/include/python3.11": sysconfig.get_paths()["include"],
        f"{BUILT_AT}/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
    }


def fix(prefix: Path) -> int:
    """Rewrite the paths in every share/**/*.cmake below `prefix`; returns the files changed."""
    changed = 0
    for path in (prefix / "share").rglob("*.cmake"):
        text = path.read_text()
        fixed = text
        for old, new in replacements().items():
            fixed = fixed.replace(old, new)
        if fixed != text:
            path.write_text(fixed)
            changed += 1
    return changed


if __name__ == "__main__":
    print(f"fix_wheel_cmake: {fix(Path(sys.argv[1]))} files rewritten")
