"""The prompt-type ablation of the paper (Table 5): train with amodal, modal or random GT boxes,
evaluate each model with amodal and with modal front-end boxes, average the two.

    python -m training.ablation_prompts --gt runs/heldout_shapes/annotations.json \\
        --out runs/table5 [--config config/train_cpu_shapes.yaml] [--variants amodal modal random]
        [--front-end-jitter 0.0] [--seed 0] [--json OUT] [--markdown OUT] [key=value ...]

Each variant is one ``training.train`` run of ``--config`` with the ``key=value`` overrides and
``data.prompt_amodal_prob`` set to 1 (amodal), 0 (modal) or 0.5 (random, the paper's recipe), in
``OUT/<variant>``; a finished run whose ``config.yaml`` equals the one asked for is reused, so an
interrupted ablation continues where it stopped. The paper's front-ends are detectors (amodal:
AISFormer, modal: RTMDet...); at CPU scale on synthetic data the front-ends are the GT boxes of
``--gt`` (amodal: the amodal box, modal: the visible box), score 1, optionally with each edge
moved by a normal draw of ``--front-end-jitter`` times the box size (seeded by ``--seed``), as a
detector's boxes would be. ``--gt`` is ``FORMAT:PATH`` (any reader) or an amodal-COCO file.

Printed: the Table-5-shaped table (class-agnostic AP, AP50, AP75, AR@100 with the IoU-refined
score, averaged over the two front-ends) and the table per front-end (with the occluded
instances' AP and mean IoU).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from sameo_core.data.sampling import PromptConfig, sample_prompt_box
from sameo_core.evaluation.coco_eval import load_gt
from sameo_core.evaluation.predict import model_results
from sameo_core.evaluation.prompts import Prompt, gt_prompts
from sameo_core.evaluation.run import evaluate_results
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.training.recipe import load_config
from training import train

VARIANTS = {"amodal": 1.0, "modal": 0.0, "random": 0.5}  # data.prompt_amodal_prob
FRONT_ENDS = {"amodal": "gt-amodal", "modal": "gt-modal"}
METRICS = ("AP", "AP50", "AP75", "AR100")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gt", required=True, metavar="FORMAT:PATH", help="held-out evaluation set")
    p.add_argument("--image-root", type=Path, help="folder of the GT images")
    p.add_argument("--out", type=Path, required=True, help="one training run per variant here")
    p.add_argument("--config", type=Path, default=Path("config/train_cpu_shapes.yaml"))
    p.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    p.add_argument("--front-end-jitter", type=float, default=0.0,
                   help="std of each front-end box edge, as a share of the box size")
    p.add_argument("--seed", type=int, default=0, help="seed of the front-end jitter")
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument("overrides", nargs="*", help="training overrides, e.g. run.steps=2000")
    return p


def _train(config: Path, overrides: list[str], out_dir: Path) -> Path:
    """The final model of the run asked for, trained now unless it already exists."""
    final = out_dir / "model_final.pt"
    wanted = load_config(config, overrides).to_dict()
    done = out_dir / "config.yaml"
    if final.is_file() and done.is_file() and yaml.safe_load(done.read_text()) == wanted:
        print(f"{out_dir}: reusing the finished run")
        return final
    args = train.get_args_parser().parse_args(["--config", str(config), *overrides])
    if train.main(args) != 0:
        raise RuntimeError(f"training of {out_dir} stopped early (see its log)")
    return final


def front_end_prompts(gt: dict[str, Any], kind: str, jitter: float, seed: int) -> list[Prompt]:
    """GT prompts of ``kind`` as a front-end's boxes: each edge moved by N(0, jitter * size)
    and clipped to the image (``sameo_core.data.sampling.sample_prompt_box``)."""
    prompts = gt_prompts(gt, FRONT_ENDS[kind])
    if jitter == 0:
        return prompts
    sizes = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    rng = np.random.default_rng(seed)
    cfg = PromptConfig(amodal_probability=1.0, jitter=jitter)
    return [Prompt(p.image_id, sample_prompt_box(rng, p.box, p.box, sizes[p.image_id], cfg).xyxy,
                   p.score, p.ann_id) for p in prompts]  # fmt: skip


def _evaluate(model_path: Path, gt: dict[str, Any], prompts: list[Prompt]) -> dict[str, Any]:
    predictor = AmodalPredictor(build_sameo(checkpoint=model_path),
                                config=PredictorConfig(invalid_boxes="skip"))  # fmt: skip
    metrics, _ = evaluate_results(gt, model_results(predictor, gt, prompts, ""))
    return metrics


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.front_end_jitter < 0:
        raise ValueError(f"--front-end-jitter must be >= 0, got {args.front_end_jitter}")
    gt = load_gt(args.gt, args.image_root)
    prompts = {kind: front_end_prompts(gt, kind, args.front_end_jitter, args.seed)
               for kind in FRONT_ENDS}  # fmt: skip
    report: dict[str, Any] = {
        "gt": str(args.gt), "config": str(args.config), "overrides": args.overrides,
        "front_end_jitter": args.front_end_jitter, "seed": args.seed, "rows": {}, "table5": {},
    }  # fmt: skip
    for variant in args.variants:
        out_dir = args.out / variant
        overrides = [*args.overrides, f"data.prompt_amodal_prob={VARIANTS[variant]}",
                     f"run.out_dir={out_dir}"]  # fmt: skip
        model = _train(args.config, overrides, out_dir)
        rows = {kind: _evaluate(model, gt, prompts[kind]) for kind in FRONT_ENDS}
        report["rows"][variant] = rows
        report["table5"][variant] = {m: float(np.mean([rows[k][m] for k in FRONT_ENDS]))
                                     for m in METRICS}  # fmt: skip
    return report


def markdown(report: dict[str, Any]) -> str:
    """Table 5 (the average over both front-ends), then the figures per front-end."""
    lines = ["| box prompt in training | AP | AP50 | AP75 | AR |", "|---|---|---|---|---|"]
    for variant, stats in report["table5"].items():
        lines.append(f"| {variant} | " + " | ".join(f"{100 * stats[m]:.1f}" for m in METRICS)
                     + " |")  # fmt: skip
    lines += ["", "| box prompt in training | front-end boxes | AP | AP50 | AP75 | AR | "
              "occluded AP | occluded mIoU | unoccluded mIoU |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for variant, rows in report["rows"].items():
        for kind, m in rows.items():
            cells = [f"{100 * m[k]:.1f}" for k in METRICS]
            cells += [f"{100 * m['occluded']['AP']:.1f}", f"{m['occluded']['mIoU']:.3f}",
                      f"{m['unoccluded']['mIoU']:.3f}"]  # fmt: skip
            lines.append(f"| {variant} | {kind} | " + " | ".join(cells) + " |")
    first = next(iter(next(iter(report["rows"].values())).values()))
    lines.append(f"\nAP / AR: class-agnostic COCO mask AP and AR@100 (%), SAMEO's score refined "
                 f"by its predicted IoU; {first['occluded']['count']} occluded and "
                 f"{first['unoccluded']['count']} unoccluded instances; front-end boxes = GT "
                 f"boxes, jitter {report['front_end_jitter']}.")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = get_args_parser().parse_args(argv)
    report = run(args)
    text = markdown(report)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n")
    return report


if __name__ == "__main__":
    torch.multiprocessing.set_start_method("spawn", force=True)
    cli.run(lambda: main(sys.argv[1:]))
