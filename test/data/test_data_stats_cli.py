"""`python -m training.dataset_stats` end to end on the COCOA demo and a generated set."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sameo_core.data.amodal_lvis import SynthConfig
from training.synthesize import Job, generate

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).parent / "cocoa_demo"


def _stats(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "training.dataset_stats", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_table_rows_and_json_for_cocoa_demo_and_a_generated_set(tmp_path):
    generate(Job(tmp_path / "syn", "shapes", 4, 2, image_size=64, synth=SynthConfig((0.3, 0.4))))
    regions = [r for p in DEMO.glob("*.json") for r in json.loads(p.read_text())["regions"]]
    demo_file_rates = [r["occlude_rate"] for r in regions if "visible_mask" in r]
    out = tmp_path / "rows.json"
    done = _stats(f"cocoa:{DEMO}", f"amodal_coco:{tmp_path / 'syn' / 'annotations.json'}",
                  "--json", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    for column in ("# Instances", "# Images", "POI (%)", "Avg ROR (%)"):
        assert column in header
    assert f"cocoa:{DEMO}" in done.stdout and "0 bad annotation(s)" in done.stderr
    cocoa, synth = json.loads(out.read_text())
    assert set(cocoa) == {"name", "instances", "images", "poi", "avg_ror"}
    assert (cocoa["instances"], cocoa["images"], cocoa["poi"]) == (48, 5, 50.0)
    assert cocoa["avg_ror"] == pytest.approx(100 * sum(demo_file_rates) / 24, abs=0.1)
    # 4 pairs: 4 occluded targets + 4 occluders + 4 originals over 8 images
    assert (synth["instances"], synth["images"]) == (12, 8)
    assert synth["poi"] == pytest.approx(100 / 3)
    assert 30.0 <= synth["avg_ror"] <= 40.0


def test_filter_flag_drops_stuff(tmp_path):
    done = _stats(f"cocoa:{DEMO}", "--filter", "--json", str(tmp_path / "f.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "f.json").read_text())[0]["instances"] == 45
    assert "'stuff': 3" in done.stderr


def test_bad_spec_is_a_clear_error():
    done = _stats("nonsense")
    assert done.returncode == 2 and "FORMAT:PATH" in done.stderr
