"""The tracker-cost benchmark runs end to end (figures: BENCHMARKS.md, "Object permanence")."""

from __future__ import annotations

import json
import sys

from sameo_core.tools import tracking_benchmark
from sameo_core.tools.occlusion_benchmark import DEMO


def test_tracking_benchmark_reports_cost_at_20_tracks(tmp_path, monkeypatch):
    if not DEMO.is_file():
        raise FileNotFoundError(f"the demo checkpoint is missing: {DEMO}")
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["tracking_benchmark", "--repeats", "1", "--frames", "3",
                                      "--threads", "1", "--json", str(out)])
    report = tracking_benchmark.main()
    assert json.loads(out.read_text())["tracks_per_frame"] == report["tracks_per_frame"]
    assert report["tracks_per_frame"]["max"] == tracking_benchmark.TRACKS
    assert report["tracker_ms"] > 0 and 0 < report["tracker_share"] < 1
    assert report["states"]["RECOVERED"] > 0  # the withheld objects were re-prompted
