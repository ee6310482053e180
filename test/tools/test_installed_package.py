"""A non-editable install of sameo_core works outside the source tree.

The wheel is built from this checkout and installed into a fresh virtual environment; the
environment borrows torch, numpy and the other dependencies from the test interpreter's own
site-packages through a .pth path entry (a second 5 GB torch install per test run would be
absurd). A path entry does not run that site-packages' own .pth files, so the editable install of
the development environment stays invisible: `sameo_core` can only come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import torch

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          **kwargs)  # fmt: skip


def _source_copy(destination: Path) -> Path:
    """The files git tracks (plus new, not ignored ones) of the package, copied: building in
    the checkout itself would leave a build/ folder there whose stale files later wheels take."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "setup.py", "sameo_core"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    for name in listed:
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


def test_wheel_install_runs_the_image_demo_from_any_directory(tmp_path):
    wheel_dir = tmp_path / "wheels"
    source = _source_copy(tmp_path / "source")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(wheel_dir), str(source)], cwd=tmp_path)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheel_dir.glob("sameo-*.whl")

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp_path).stdout.strip())  # fmt: skip
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                     cwd=tmp_path)  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import sameo_core, importlib.util as u; "
                  "print(sameo_core.__file__); print(u.find_spec('training'))"],
                 cwd=elsewhere)  # fmt: skip
    module_file, training_spec = where.stdout.split()
    assert Path(module_file).is_relative_to(site), module_file  # the wheel's copy
    assert training_spec == "None"  # `training` is not installed as a top-level package

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", build_sameo("test"))
    demo = _run([str(python), "-m", "sameo_core.tools.image_demo", "--checkpoint",
                 str(tmp_path / "tiny.pt"), "--out", "demo_out"], cwd=elsewhere)  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    results = json.loads((elsewhere / "demo_out" / "masks.json").read_text())
    assert len(results) == 6  # the six objects of the installed demo image
    assert (elsewhere / "demo_out" / "overlay.png").is_file()
