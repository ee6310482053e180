"""`make gpu-report`'s command: its whole code path on a CPU (tiny model, few frames), and its
errors. The GPU figures themselves come from a machine with a GPU (BENCHMARKS.md)."""

import json
import os
import subprocess
import sys

import pytest


def _report(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sameo_core.tools.gpu_report", *args],
                          capture_output=True, text=True, env=env)  # fmt: skip


def test_report_code_path_on_a_cpu(tmp_path):
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"model_ms_p50": 12.5}))
    out = tmp_path / "gpu.json"
    proc = _report("--device", "cpu", "--postprocess", "batched", "--variants", "test",
                   "--dtypes", "float32", "bfloat16", "--boxes", "1", "3", "--frames", "3",
                   "--frame-size", "120", "160",
                   "--node-json", str(node), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["frame"] == {"height": 120, "width": 160}
    assert report["node"] == {"model_ms_p50": 12.5}
    rows = report["rows"]
    assert [(r["dtype"], r["boxes"]) for r in rows] == [
        ("float32", 1), ("float32", 3), ("bfloat16", 1), ("bfloat16", 3)]
    for row in rows:
        assert row["heads"] == ["amodal", "modal"] and row["postprocess"] == "batched"
        assert 0 < row["wall_ms_p50"] <= row["wall_ms_p99"] and row["frames"] == 3
        assert set(row["stage_ms_p50"]) == {"encoder", "prompt", "decoder_amodal",
                                            "decoder_modal", "postprocess", "copy"}
        assert row["syncs_per_predict"] == 2
        assert row["gflop_encoder"] > 0 and row["gflop_predict"] > 0
        assert row["tflops_frame"] > 0 and row["first_frame_ms"] > 0
    # one decoder call per head whatever the boxes: the FLOPs grow with the boxes
    assert rows[1]["gflop_predict"] > rows[0]["gflop_predict"]
    assert rows[0]["gflop_encoder"] == rows[1]["gflop_encoder"]
    assert "TFLOP/s" in proc.stdout


def test_without_cuda_the_report_is_a_clear_error(tmp_path):
    proc = _report("--json", str(tmp_path / "gpu.json"),
                   env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: the GPU report needs a CUDA GPU")
    assert not (tmp_path / "gpu.json").exists()


def test_bad_node_report_is_a_clear_error(tmp_path):
    from sameo_core.tools import gpu_report

    def run(*args):
        parsed = gpu_report.get_args_parser().parse_args(
            ["--device", "cpu", "--variants", "test", "--json", str(tmp_path / "gpu.json"), *args])
        return gpu_report.main(parsed)

    bad = tmp_path / "node.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        run("--node-json", str(bad))
    with pytest.raises(FileNotFoundError, match="none.json"):  # an OSError: exit 2 as well
        run("--node-json", str(tmp_path / "none.json"))
    with pytest.raises(ValueError, match="must be ≥ 1"):
        run("--frames", "0")
    assert not (tmp_path / "gpu.json").exists()
