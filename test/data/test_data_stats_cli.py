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
    assert set(cocoa) == {"name", "instances", "images", "poi", "avg_ror", "filters"}
    assert (cocoa["instances"], cocoa["images"], cocoa["poi"]) == (48, 5, 50.0)
    assert cocoa["avg_ror"] == pytest.approx(100 * sum(demo_file_rates) / 24, abs=0.1)
    # 4 pairs: 4 occluded targets + 4 originals over 8 images (occluders are not annotated)
    assert (synth["instances"], synth["images"]) == (8, 8)
    assert synth["poi"] == pytest.approx(50.0)
    assert 30.0 <= synth["avg_ror"] <= 40.0


def test_filter_flag_alone_applies_the_three_section_3_2_filters(tmp_path):
    done = _stats(f"cocoa:{DEMO}", "--filter", "--json", str(tmp_path / "f.json"))
    assert done.returncode == 0, done.stderr
    row = json.loads((tmp_path / "f.json").read_text())[0]
    assert row["instances"] == 45 and row["filters"] == ["low_visible", "large", "stuff"]
    assert "'stuff': 3" in done.stderr


def _filter_test_file(tmp_path: Path) -> Path:
    """One instance for each filter to remove, plus two that every filter keeps."""
    from helpers.amodal_data import coco_file, rect_mask

    from sameo_core.data import rle

    box = rect_mask(0, 0, 10, 10)  # 100 px of the 600-px image
    cases = [  # (amodal, visible, category): 3 = cup, 4 = wall
        (box, rect_mask(0, 0, 10, 5), 3),  # kept: 50 % hidden
        (box, box, 3),  # kept: unoccluded
        (box, rect_mask(0, 0, 9, 1), 3),  # low_visible: 9 % visible (and 91 % hidden)
        (rect_mask(0, 0, 30, 19), rect_mask(0, 0, 30, 19), 3),  # large: 95 % of the image
        (box, box, 4),  # stuff: a wall
        (box, rect_mask(0, 0, 5, 3), 3),  # heavy_occlusion: 15 % visible, 85 % > 80 % hidden
    ]
    anns = [{"id": i + 1, "image_id": 1, "category_id": cat, "segmentation": rle.encode(a),
             "visible_mask": rle.encode(v)} for i, (a, v, cat) in enumerate(cases)]  # fmt: skip
    return coco_file(tmp_path, anns)


def _stats_here(*args: str) -> list[dict]:
    """`python -m training.dataset_stats ARGS --json` in this process: the rows."""
    from training.dataset_stats import main

    out = Path(args[-1])
    assert main(list(args[:-1]) + ["--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    ("name", "removed"),
    [("low_visible", 1), ("large", 1), ("stuff", 1), ("heavy_occlusion", 2)],
)
def test_each_filter_by_name_reproduces_a_table_1_variant(tmp_path, capsys, name, removed):
    path = _filter_test_file(tmp_path)
    (row,) = _stats_here(f"amodal_coco:{path}", "--filter", name, str(tmp_path / "rows.json"))
    # heavy_occlusion also removes the 91 %-hidden instance that low_visible removes
    assert (row["instances"], row["filters"]) == (6 - removed, [name])
    assert row["name"] == f"amodal_coco:{path} [{name}]"
    assert f"'{name}': {removed}" in capsys.readouterr().err


def test_filter_thresholds_and_unknown_names(tmp_path):
    path = _filter_test_file(tmp_path)
    (row,) = _stats_here(f"amodal_coco:{path}", "--filter", "heavy_occlusion",
                         "--max-occlusion", "0.9", str(tmp_path / "rows.json"))  # fmt: skip
    assert row["instances"] == 5  # 85 % hidden is not above 0.9; 91 % is
    bad = _stats(f"amodal_coco:{path}", "--filter", "walls")
    assert bad.returncode == 2 and "invalid choice: 'walls'" in bad.stderr


def test_bad_spec_is_a_clear_error():
    done = _stats("nonsense")
    assert done.returncode == 2 and "FORMAT:PATH" in done.stderr
