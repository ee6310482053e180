"""Speed and memory of SAMEO inference, against the official inference path in the same run.

    python -m sameo_core.tools.inference_benchmark [--device cuda] [--variant vitt] [--json OUT]

Measures the encoder, the decoder for 1/5/20/50 boxes (batched in chunks vs one call per box),
and one end-to-end frame (720p, 20 boxes). In the same process it times a straightforward
implementation of the official EfficientSAM inference path: attention with plain matmuls, all
boxes in one decoder call, all three masks bicubic-upsampled to full resolution, then the best
mask by predicted IoU (yformer/EfficientSAM `EfficientSAM_example.py`). Ratios are ours / official.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import Sameo, build_sameo, naive_attention
from sameo_core.tools import cli

FRAME_SIZE = (720, 1280)
DECODER_BOX_COUNTS = (1, 5, 20, 50)


def synthetic_frame(seed: int = 0) -> np.ndarray:
    """A smooth random RGB uint8 720p image (content barely matters for timing)."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, 9, 16)).astype(np.float32))
    image = F.interpolate(coarse, FRAME_SIZE, mode="bicubic", align_corners=False)
    return image[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()


def random_boxes(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = FRAME_SIZE
    sizes = rng.uniform(0.05, 0.35, (n, 2)) * [width, height]
    corners = rng.uniform(0, 1, (n, 2)) * ([width, height] - sizes)
    return np.concatenate([corners, corners + sizes], axis=1).astype(np.float32)


def _once_ms(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1e3


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> dict[str, float]:
    """Median and minimum wall time in ms over `repeats` runs after one warm-up."""
    fn()
    times = [_once_ms(fn, device) for _ in range(repeats)]
    return {"median_ms": statistics.median(times), "min_ms": min(times)}


def timed_side_by_side(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, dict[str, float]]:
    """Like `timed` for several functions, run in alternation so that drifts in machine load
    affect them alike (our machines are shared and noisy)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_once_ms(fn, device))
    return {name: {"median_ms": statistics.median(t), "min_ms": min(t)}
            for name, t in times.items()}


def official_frame(model: Sameo, image: np.ndarray, boxes: np.ndarray, device: torch.device):
    """The official inference path, as in EfficientSAM's example, on our modules."""
    with torch.inference_mode(), naive_attention():
        tensor = torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float() / 255
        height, width = image.shape[:2]
        emb = model.image_embeddings(tensor)
        points = torch.from_numpy(boxes).to(device).reshape(1, -1, 2, 2)
        labels = torch.tensor([2, 3], device=device).expand(1, len(boxes), 2)
        masks, iou = model.decode(emb, points, labels, (height, width), True, (height, width))
        order = torch.argsort(iou, dim=-1, descending=True)
        best = torch.take_along_dim(masks, order[..., None, None], dim=2)[:, :, 0]
        return (best >= 0).cpu().numpy(), iou


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def bench_decoder(predictor: AmodalPredictor, repeats: int) -> list[dict[str, float]]:
    rows = []
    for n in DECODER_BOX_COUNTS:
        boxes = random_boxes(n)
        pair = timed_side_by_side({
            "batched": lambda b=boxes: predictor.predict(b),
            "per_box": lambda b=boxes: [predictor.predict(b[i : i + 1]) for i in range(len(b))],
        }, repeats, predictor.device)
        batched, per_box = pair["batched"], pair["per_box"]
        rows.append({"boxes": n, "batched_ms": batched["median_ms"],
                     "per_box_ms": per_box["median_ms"],
                     "per_box_over_batched": per_box["median_ms"] / batched["median_ms"]})
        print(f"decoder {n:3d} boxes: batched {batched['median_ms']:8.1f} ms, one call per box "
              f"{per_box['median_ms']:8.1f} ms ({rows[-1]['per_box_over_batched']:.2f}x)")
    return rows


def bench_frame(model: Sameo, predictor: AmodalPredictor, repeats: int) -> dict[str, float]:
    image, boxes = synthetic_frame(), random_boxes(20)

    def ours() -> None:
        predictor.set_image(image)
        predictor.predict(boxes)

    reset_peak(predictor.device)
    ours()
    ours_mem = peak_memory_mb(predictor.device)
    reset_peak(predictor.device)
    official_frame(model, image, boxes, predictor.device)
    official_mem = peak_memory_mb(predictor.device)
    pair = timed_side_by_side({
        "ours": ours, "official": lambda: official_frame(model, image, boxes, predictor.device)
    }, repeats, predictor.device)
    ours_t, official_t = pair["ours"], pair["official"]
    ratio = ours_t["median_ms"] / official_t["median_ms"]
    print(f"frame 720p, 20 boxes: ours {ours_t['median_ms']:.1f} ms, official path "
          f"{official_t['median_ms']:.1f} ms, ratio {ratio:.3f}")
    print(f"peak memory: ours {ours_mem:.0f} MiB, official path {official_mem:.0f} MiB"
          + (" (process max RSS; monotonic on CPU)" if predictor.device.type == "cpu" else ""))
    return {"ours_ms": ours_t["median_ms"], "official_ms": official_t["median_ms"],
            "ours_min_ms": ours_t["min_ms"], "official_min_ms": official_t["min_ms"],
            "ratio_ours_over_official": ratio, "ours_peak_mb": ours_mem,
            "official_peak_mb": official_mem}


def machine_info(device: torch.device) -> dict[str, object]:
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_header(module: str, device: torch.device) -> dict[str, object]:
    """What every benchmark report starts with: the command as run, the UTC date, the machine."""
    return {"command": " ".join([Path(sys.executable).name, "-m", module, *sys.argv[1:]]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(device)}  # fmt: skip


def write_results(path: str | None, results: dict[str, object]) -> None:
    """Write a benchmark report as JSON to `path` (when given), creating its folder."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results, indent=2))
        print(f"wrote {path}")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Benchmark SAMEO inference")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", default="vitt")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict[str, object]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_sameo(args.variant, args.checkpoint).to(device)
    predictor = AmodalPredictor(model, device, getattr(torch, args.dtype), PredictorConfig())
    image = synthetic_frame()
    encoder = timed(lambda: predictor.set_image(image), args.repeats, device)
    print(f"encoder ({args.variant}, {FRAME_SIZE[1]}x{FRAME_SIZE[0]} input): "
          f"{encoder['median_ms']:.1f} ms")
    results = {
        **run_header("sameo_core.tools.inference_benchmark", device),
        "variant": args.variant, "dtype": args.dtype,
        "encoder_ms": encoder["median_ms"], "decoder": bench_decoder(predictor, args.repeats),
        "frame_720p_20_boxes": bench_frame(model, predictor, args.repeats),
    }
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
