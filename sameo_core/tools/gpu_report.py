"""The library's frame path on one CUDA GPU, in one JSON (`make gpu-report`, a few minutes).

    python -m sameo_core.tools.gpu_report --json out/gpu_report.json [--device cuda]
        [--variants vitt vits] [--dtypes bfloat16 float32] [--boxes 1 5 20 64] [--frames 100]
        [--node-json NODE.json]

Per model size, precision and box count, on a 1280x720 frame (`--frame-size`) with both heads
(the node's configuration: `PredictorConfig()` defaults, i.e. the batched post-processing and all
boxes in one decoder call on CUDA), after `AmodalPredictor.warmup`:

* p50 and p99 over `--frames` frames of the wall time of set_image + predict;
* p50 of each stage (`Prediction.timings`: CUDA-event times of the encoder, prompt encoding,
  the decoder of each head, post-processing and the copies to the host);
* host syncs and dispatched ops of one predict (`SyncCounter`);
* the FLOPs of a frame, counted with `torch.utils.flop_counter.FlopCounterMode` on this device
  (matmuls and convolutions, attention counted as its two matmuls; 2 FLOPs per multiply-add):
  the encoder's, and the rest of the frame (prompt encoder and decoders; the bicubic upsampling
  is not counted); achieved TFLOP/s = FLOPs / p50 time, for the frame and for the encoder alone.

The weights are seeded random ones (speed does not depend on the weights, except that random
masks are large: the worst case of the post-processing and of the copy to the host). `--device
cpu --postprocess batched` runs the same code on a CPU (the smoke test); `--device cuda` without
a GPU is an error (exit 2).
`--node-json` merges a report of the node's end-to-end run over DDS (written by the node's own
harness) under "node".
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference.host_syncs import count_syncs
from sameo_core.model import build_sameo, naive_attention
from sameo_core.tools import cli
from sameo_core.tools.inference_benchmark import (
    FRAME_SIZE,
    benchmark_device,
    random_boxes,
    run_header,
    synthetic_frame,
    write_results,
)

VARIANTS = ("vitt", "vits")
DTYPES = ("bfloat16", "float32")
BOX_COUNTS = (1, 5, 20, 64)
FRAMES = 100


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation, as numpy's default)."""
    return float(np.percentile(np.asarray(values), q))


def count_flops(predictor: AmodalPredictor, image: np.ndarray, boxes: np.ndarray) -> dict:
    """FLOPs of set_image (the encoder) and of predict (everything after it) of one frame.

    Counted with attention as plain matmuls (`naive_attention`, the same arithmetic): the flop
    counter knows every matmul, but not every fused attention kernel (not the CPU one).
    """
    with naive_attention(), FlopCounterMode(display=False) as encoder:
        predictor.set_image(image)
    with naive_attention(), FlopCounterMode(display=False) as decoder:
        predictor.predict(boxes)
    return {"encoder": encoder.get_total_flops(), "predict": decoder.get_total_flops()}


def frame_row(
    predictor: AmodalPredictor, image: np.ndarray, boxes: np.ndarray, frames: int
) -> dict[str, object]:
    """Wall-time percentiles, stage medians, syncs, ops and FLOPs of frames of `boxes` boxes."""
    walls, stages = [], []
    for _ in range(frames):
        start = time.perf_counter()
        predictor.set_image(image)
        prediction = predictor.predict(boxes)
        walls.append((time.perf_counter() - start) * 1e3)
        stages.append(prediction.timings.as_ms())
    predictor.set_image(image)
    (_, counts) = count_syncs(predictor.predict, boxes)
    flops = count_flops(predictor, image, boxes)
    p50 = percentile(walls, 50)
    encoder_p50 = statistics.median(s["encoder"] for s in stages)
    total = flops["encoder"] + flops["predict"]
    return {
        "boxes": len(boxes), "frames": frames, "wall_ms_p50": p50,
        "wall_ms_p99": percentile(walls, 99),
        "stage_ms_p50": {name: statistics.median(s[name] for s in stages) for name in stages[0]},
        "syncs_per_predict": counts.sync_total, "syncs_by_kind": dict(counts.syncs),
        "ops_per_predict": counts.ops, "gflop_encoder": flops["encoder"] / 1e9,
        "gflop_predict": flops["predict"] / 1e9,
        "tflops_frame": total / (p50 * 1e-3) / 1e12,
        "tflops_encoder": flops["encoder"] / (encoder_p50 * 1e-3) / 1e12 if encoder_p50 else None,
    }  # fmt: skip


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="SAMEO frame path on one GPU: one JSON")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES),
                        choices=["float32", "float16", "bfloat16"])  # fmt: skip
    parser.add_argument("--boxes", type=int, nargs="+", default=list(BOX_COUNTS))
    parser.add_argument("--frames", type=int, default=FRAMES, help="timed frames per row")
    parser.add_argument("--frame-size", type=int, nargs=2, default=list(FRAME_SIZE),
                        metavar=("HEIGHT", "WIDTH"), help="default: 720 1280")
    parser.add_argument("--postprocess", default="auto", choices=["auto", "batched", "roi"],
                        help="PredictorConfig.postprocess (auto: batched on CUDA)")
    parser.add_argument("--node-json", default=None,
                        help="the node's end-to-end report over DDS, merged under 'node'")
    parser.add_argument("--json", required=True, help="write the report here")
    return parser


def main(args: argparse.Namespace) -> dict[str, object]:
    device = benchmark_device(args.device, "the GPU report")
    if args.frames < 1 or min(args.boxes) < 1 or min(args.frame_size) < 1:
        raise ValueError("--frames, --boxes and --frame-size must be ≥ 1")
    size = (args.frame_size[0], args.frame_size[1])
    node = None
    if args.node_json:
        try:
            node = json.loads(Path(args.node_json).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"--node-json {args.node_json}: not JSON ({error})") from None
    report: dict[str, object] = {
        **run_header("sameo_core.tools.gpu_report", device),
        "frame": {"height": size[0], "width": size[1]},
        "weights": "seeded random, both heads (speed does not depend on the weights)",
        "tf32_matmul": device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32,
        "rows": [],
    }
    image = synthetic_frame(0, size)
    started = time.perf_counter()
    for variant in args.variants:
        torch.manual_seed(0)
        model = build_sameo(variant, modal_head=True).to(device)
        for dtype in args.dtypes:
            config = PredictorConfig(postprocess=args.postprocess)
            predictor = AmodalPredictor(model, device, getattr(torch, dtype), config)
            warmup_s = predictor.warmup(size, max(args.boxes))
            for n in args.boxes:
                boxes = random_boxes(n, 1, size)
                row = {"variant": variant, "dtype": dtype, "heads": list(predictor.heads),
                       "postprocess": predictor.config.postprocess_for(device),
                       "first_frame_ms": warmup_s * 1e3,
                       **frame_row(predictor, image, boxes, args.frames)}  # fmt: skip
                report["rows"].append(row)
                print(f"{variant} {dtype:8s} {n:2d} boxes: p50 {row['wall_ms_p50']:8.2f} ms, "
                      f"p99 {row['wall_ms_p99']:8.2f} ms, {row['syncs_per_predict']} syncs, "
                      f"{row['tflops_frame']:.2f} TFLOP/s; stages "
                      + ", ".join(f"{k} {v:.2f}" for k, v in row["stage_ms_p50"].items()))
            del predictor
    report["seconds"] = time.perf_counter() - started
    if node is not None:
        report["node"] = node
    write_results(args.json, report)
    return report


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
