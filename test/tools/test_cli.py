"""Every command reports a user error (missing file, bad value, wrong checkpoint) in one line
`error: ...` with exit code 2 and no traceback; bugs keep their traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sameo_core.tools import cli

REPO = Path(__file__).resolve().parents[2]


def _not_a_checkpoint(tmp_path: Path) -> Path:
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a checkpoint at all")
    return bad


COMMANDS = {
    "image_demo": ["sameo_core.tools.image_demo", "--checkpoint", "{missing}"],
    "image_demo_bad_checkpoint": ["sameo_core.tools.image_demo", "--checkpoint", "{garbage}"],
    "inference_benchmark": ["sameo_core.tools.inference_benchmark", "--variant", "test",
                            "--checkpoint", "{missing}"],
    "depth_lifting_benchmark": ["sameo_core.tools.depth_lifting_benchmark", "--scenes", "1",
                                "--checkpoint", "{missing}"],
    "onnx_export": ["sameo_core.tools.onnx_export", "--checkpoint", "{garbage}", "--out",
                    "{tmp}/onnx"],
    "train_missing_weights": ["training.train", "--config", "config/train_sameo_vitt.yaml",
                              "run.out_dir={tmp}/run"],
    "train_bad_value": ["training.train", "--config", "config/train_cpu_shapes.yaml",
                        "optim.lr=-1", "run.out_dir={tmp}/run"],
    "evaluate": ["training.evaluate", "--gt", "{missing}", "--results", "{missing}"],
    "synthesize": ["training.synthesize", "--source", "amodal_coco:{missing}", "--out",
                   "{tmp}/synth", "--num-images", "2", "--seed", "0"],
    "dataset_stats": ["training.dataset_stats", "cocoa:{missing}"],
    "export_checkpoint": ["training.export_checkpoint", "{garbage}", "{tmp}/out.pt"],
    "proof_of_learning": ["training.proof_of_learning", "--gt", "{missing}", "--trained",
                          "{missing}"],
    "bench_embedding_cache": ["training.bench_embedding_cache", "--source",
                              "amodal_coco:{missing}"],
    "replay": ["sameo_ros.replay", "{missing}", "{tmp}/out_bag", "--image-topic", "/image",
               "--detections-topic", "/detections"],
    "node_demo": ["sameo_ros.harness.node_demo", "--checkpoint", "{missing}"],
    "ablation_prompts": ["training.ablation_prompts", "--gt", "{missing}", "--out",
                         "{tmp}/ablation"],
    "evaluate_occlusion": ["training.evaluate_occlusion", "--gt", "amodal_coco:{missing}",
                           "--checkpoint", "{garbage}"],
    "occlusion_benchmark": ["sameo_core.tools.occlusion_benchmark", "--checkpoint",
                            "{garbage}"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_user_errors_are_one_line_and_exit_2(name, tmp_path):
    values = {"missing": str(tmp_path / "does_not_exist.json"),
              "garbage": str(_not_a_checkpoint(tmp_path)), "tmp": str(tmp_path)}  # fmt: skip
    args = [a.format(**values) for a in COMMANDS[name]]
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith("error: "), proc.stderr[-3000:]
    assert sum(line.startswith("error: ") for line in lines) == 1


def test_bugs_keep_their_traceback():
    def buggy() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        cli.run(buggy)


def test_exit_codes(capsys, monkeypatch):
    with pytest.raises(SystemExit) as done:
        cli.run(lambda: 3)
    assert done.value.code == 3
    with pytest.raises(SystemExit) as done:
        cli.run(lambda: {"a": "result"})
    assert done.value.code == 0

    def user_error() -> None:
        raise ValueError("first line\n  second line")

    with pytest.raises(SystemExit) as done:
        cli.run(user_error)
    assert done.value.code == 2
    assert capsys.readouterr().err == "error: first line second line\n"
    monkeypatch.setenv("SAMEO_TRACEBACK", "1")
    with pytest.raises(ValueError):
        cli.run(user_error)
