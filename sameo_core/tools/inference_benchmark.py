"""Speed, memory and host syncs of SAMEO inference, against the official inference path and
against another checkout, in the same run.

    python -m sameo_core.tools.inference_benchmark [--device cuda] [--variant vitt]
        [--checkpoint CKPT] [--dtype bfloat16] [--baseline /path/to/other/checkout] [--json OUT]

Measures, with both heads when the network has a modal head (random weights: always both, as
the node runs):

* the encoder, and the decoder for 1/5/20/50 boxes (batched in chunks vs one call per box);
* one end-to-end frame (720p, 20 boxes) against a straightforward implementation of the
  official EfficientSAM inference path in the same process: attention with plain matmuls, all
  boxes in one decoder call, all three masks bicubic-upsampled to full resolution, then the best
  mask by predicted IoU (yformer/EfficientSAM `EfficientSAM_example.py`). Ratios are ours /
  official;
* host syncs and dispatched ops per `predict` at 1/5/20/64 boxes (720p), counted with
  `sameo_core.inference.host_syncs.SyncCounter`: the per-box "roi" post-processing with the
  device's chunking, and the "batched" one with one decoder call for all boxes (CUDA's chunking);
* predict of 20 boxes at 640x480 and 1280x720 with `postprocess="roi"` vs `"batched"` (the
  device's chunking), side by side: what `postprocess="auto"` picks per device;
* the agreement of bfloat16 masks with float32 ones (mean IoU) on procedural scenes and on
  those frames;
* with `--baseline`, the same frames with the default predictor of this checkout and of another
  one (e.g. the code before a change), each in its own worker process, alternating frame by frame.

`--sections` runs only some of these (the encoder is always timed).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference.host_syncs import count_syncs
from sameo_core.model import Sameo, build_sameo, naive_attention
from sameo_core.tools import cli

FRAME_SIZE = (720, 1280)
DECODER_BOX_COUNTS = (1, 5, 20, 50)
SYNC_BOX_COUNTS = (1, 5, 20, 64)
PATH_FRAME_SIZES = ((480, 640), (720, 1280))
PATH_BOXES = 20
PRECISION_SCENES = 8
SECTIONS = ("decoder", "frame", "syncs", "paths", "precision", "baseline")


def synthetic_frame(seed: int = 0, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A smooth random RGB uint8 image of size=(H, W) (content barely matters for timing)."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, 9, 16)).astype(np.float32))
    image = F.interpolate(coarse, size, mode="bicubic", align_corners=False)
    return image[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()


def random_boxes(n: int, seed: int = 1, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """n random xyxy boxes of 5-35 % of the image's sides inside an image of size=(H, W)."""
    rng = np.random.default_rng(seed)
    height, width = size
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


def bench_decoder(
    predictor: AmodalPredictor, repeats: int, box_counts: tuple[int, ...] = DECODER_BOX_COUNTS
) -> list[dict[str, float]]:
    rows = []
    for n in box_counts:
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


def bench_syncs(
    model: Sameo, device: torch.device, dtype: torch.dtype, box_counts: tuple[int, ...]
) -> list[dict[str, object]]:
    """Host syncs and dispatched ops of one `predict` (720p frame) per box count: the per-box
    "roi" path with the device's chunking and the "batched" path with one decoder call."""
    paths = {
        "roi": AmodalPredictor(model, device, dtype, PredictorConfig(postprocess="roi")),
        "batched": AmodalPredictor(model, device, dtype, PredictorConfig(
            postprocess="batched", chunk_size=max(box_counts))),
    }
    image = synthetic_frame()
    for predictor in paths.values():
        predictor.set_image(image)
    rows = []
    for n in box_counts:
        boxes = random_boxes(n)
        row: dict[str, object] = {"boxes": n}
        for name, predictor in paths.items():
            (_, counts) = count_syncs(predictor.predict, boxes)
            row[name] = counts.as_dict()
        rows.append(row)
        print(f"syncs/ops per predict, {n:2d} boxes: roi {row['roi']['syncs']:5d} syncs "
              f"{row['roi']['ops']:6d} ops; batched {row['batched']['syncs']:2d} syncs "
              f"{row['batched']['ops']:5d} ops")
    return rows


def frame_inputs(sizes: tuple[tuple[int, int], ...], boxes: int) -> list[tuple]:
    """(image, boxes) per frame size: `synthetic_frame` and `random_boxes` of that size."""
    return [(synthetic_frame(0, size), random_boxes(boxes, 1, size)) for size in sizes]


def run_frame(predictor: AmodalPredictor, image: np.ndarray, boxes: np.ndarray):
    predictor.set_image(image)
    return predictor.predict(boxes)


def _predict_stages(predictor: AmodalPredictor, boxes: np.ndarray, stages: list) -> None:
    stages.append(predictor.predict(boxes).timings.as_ms())


def bench_paths(
    model: Sameo, device: torch.device, dtype: torch.dtype, repeats: int,
    sizes: tuple[tuple[int, int], ...] = PATH_FRAME_SIZES,
) -> list[dict[str, object]]:
    """`predict` of PATH_BOXES boxes (the part the paths change; the image is encoded once)
    with the "roi" and the "batched" path (the device's chunking), side by side, per frame
    size; and the medians of their post-processing + copy stage times."""
    paths = {name: AmodalPredictor(model, device, dtype, PredictorConfig(postprocess=name))
             for name in ("roi", "batched")}  # fmt: skip
    rows = []
    for (height, width), (image, boxes) in zip(sizes, frame_inputs(sizes, PATH_BOXES)):
        stages: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for predictor in paths.values():
            predictor.set_image(image)
        pair = timed_side_by_side({name: functools.partial(_predict_stages, p, boxes, stages[name])
                                   for name, p in paths.items()}, repeats, device)  # fmt: skip
        ratio = pair["batched"]["median_ms"] / pair["roi"]["median_ms"]
        post = {name: statistics.median(t["postprocess"] + t["copy"] for t in times)
                for name, times in stages.items()}  # fmt: skip
        rows.append({"height": height, "width": width, "boxes": PATH_BOXES,
                     "roi_predict_ms": pair["roi"]["median_ms"],
                     "batched_predict_ms": pair["batched"]["median_ms"],
                     "batched_over_roi": ratio, "roi_postprocess_ms": post["roi"],
                     "batched_postprocess_ms": post["batched"]})  # fmt: skip
        print(f"predict {width}x{height}, {PATH_BOXES} boxes: roi {pair['roi']['median_ms']:.1f}"
              f" ms, batched {pair['batched']['median_ms']:.1f} ms ({ratio:.2f}x); "
              f"post-processing + copies: roi {post['roi']:.1f} ms, batched "
              f"{post['batched']:.1f} ms")
    return rows


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def scene_inputs(
    count: int = PRECISION_SCENES, size: int = 256
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, amodal boxes) of `count` procedural scenes (the demo model's kind of images)."""
    frames = []
    for seed in range(count):
        image, instances = generate_scene(np.random.default_rng(seed), SceneConfig(size))
        frames.append((image, np.array([[x, y, x + w, y + h]
                                        for x, y, w, h in (i.amodal_box for i in instances)])))
    return frames


def mask_agreement(
    reference: AmodalPredictor, other: AmodalPredictor, frames: list[tuple[np.ndarray, np.ndarray]]
) -> dict[str, object]:
    """IoU of each mask (amodal and, with a modal head, visible) of `other` with `reference`'s
    on the frames: count, mean and minimum."""
    ious: dict[str, list[float]] = {"amodal": [], "visible": []}
    for image, boxes in frames:
        height, width = image.shape[:2]
        reference.set_image(image)
        other.set_image(image)
        for a, b in zip(reference.predict(boxes).masks, other.predict(boxes).masks):
            for part, values in ious.items():
                if getattr(a, part) is not None:
                    values.append(mask_iou(getattr(a, part).paste(height, width),
                                           getattr(b, part).paste(height, width)))
    return {"masks": len(ious["amodal"]),
            **{f"{part}_iou_mean": float(np.mean(v)) for part, v in ious.items() if v},
            **{f"{part}_iou_min": float(np.min(v)) for part, v in ious.items() if v}}


def bench_precision(
    model: Sameo, device: torch.device, sizes: tuple[tuple[int, int], ...] = PATH_FRAME_SIZES,
    scenes: int = PRECISION_SCENES, dtype: torch.dtype = torch.bfloat16,
) -> dict[str, object]:
    """Agreement of the masks of `dtype` weights with float32 ones: on `scenes` procedural
    scenes (256x256, their amodal boxes) and on the paths' frames (smooth noise, random boxes)."""
    reference, low = AmodalPredictor(model, device), AmodalPredictor(model, device, dtype)
    result = {"dtype": str(dtype).replace("torch.", ""),
              "scenes": mask_agreement(reference, low, scene_inputs(scenes)),
              "noise_frames": mask_agreement(reference, low, frame_inputs(sizes, PATH_BOXES))}
    for name in ("scenes", "noise_frames"):
        row = result[name]
        print(f"{result['dtype']} vs float32 masks, {name}: mean IoU amodal "
              f"{row['amodal_iou_mean']:.4f} (min {row['amodal_iou_min']:.4f})"
              + (f", visible {row['visible_iou_mean']:.4f} (min {row['visible_iou_min']:.4f})"
                 if "visible_iou_mean" in row else ""))
    return result


# The baseline's side: only API that every version of the predictor has.
_BASELINE_WORKER = """
import sys, time
import numpy as np, torch
import sameo_core
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
data = np.load(sys.argv[1])
checkpoint, variant, device = sys.argv[2] or None, sys.argv[3] or None, sys.argv[4]
torch.manual_seed(0)
model = build_sameo(variant, checkpoint, modal_head=None if checkpoint else True)
predictor = AmodalPredictor(model, device=device)
print(sameo_core.__file__, flush=True)
for line in sys.stdin:
    k = int(line)
    start = time.perf_counter()
    predictor.set_image(data[f"image{k}"])
    predictor.predict(data[f"boxes{k}"])
    print((time.perf_counter() - start) * 1e3, flush=True)
"""


def parse_size(text: str) -> tuple[int, int]:
    """"WIDTHxHEIGHT" → (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"frame size must be WIDTHxHEIGHT, got {text!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {text!r}")
    return height, width


def check_baseline(args: argparse.Namespace) -> None:
    if not (Path(args.baseline) / "sameo_core" / "inference" / "predictor.py").is_file():
        raise ValueError(f"--baseline {args.baseline}: no sameo_core checkout there")
    if args.dtype != "float32":
        raise ValueError("--baseline compares float32 predictors only")


class FrameWorker:
    """A process running `_BASELINE_WORKER` with the checkout at `root` on PYTHONPATH: it times
    set_image + predict of frame k of `frames` (an .npz) when asked."""

    def __init__(self, root: Path, frames: Path, args: argparse.Namespace, device: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BASELINE_WORKER, str(frames), args.checkpoint or "",
             "" if args.checkpoint else args.variant or "vitt", device],
            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.location = self.process.stdout.readline().strip()
        if not self.location.startswith(str(root)):
            self.close()
            raise RuntimeError(f"the worker for {root} imported sameo_core from "
                               f"{self.location!r}")  # fmt: skip

    def frame_ms(self, k: int) -> float:
        self.process.stdin.write(f"{k}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def bench_baseline(
    baseline: str, args: argparse.Namespace, device: torch.device,
    sizes: tuple[tuple[int, int], ...] = PATH_FRAME_SIZES,
) -> dict[str, object]:
    """set_image + predict of PATH_BOXES boxes with the default predictor of this checkout and
    of the checkout at `baseline`, each in its own worker process (the same code, the other tree
    on PYTHONPATH), alternating frame by frame, the order of each pair random: medians per frame
    size and their ratio (ours / baseline), the ratio of the minima and the median ratio of the
    pairs."""
    check_baseline(args)
    roots = {"ours": Path(__file__).resolve().parents[2], "baseline": Path(baseline).resolve()}
    inputs = frame_inputs(sizes, PATH_BOXES)
    with tempfile.TemporaryDirectory() as folder:
        frames = Path(folder) / "frames.npz"
        np.savez(frames, **{f"image{k}": image for k, (image, _) in enumerate(inputs)},
                 **{f"boxes{k}": boxes for k, (_, boxes) in enumerate(inputs)})  # fmt: skip
        workers: dict[str, FrameWorker] = {}
        try:
            for name, root in roots.items():
                workers[name] = FrameWorker(root, frames, args, str(device))
            rows = []
            for k, (height, width) in enumerate(sizes):
                for worker in workers.values():  # warm-up
                    worker.frame_ms(k)
                times: dict[str, list[float]] = {name: [] for name in workers}
                order_rng = np.random.default_rng(k)
                for _ in range(args.repeats):
                    # a random order per pair of frames: no periodic load can favour one side
                    for name in order_rng.permutation(list(workers)):
                        times[name].append(workers[name].frame_ms(k))
                medians = {name: statistics.median(t) for name, t in times.items()}
                ratio = medians["ours"] / medians["baseline"]
                # Robust to load that drifts or comes in bursts on a shared machine: the ratio
                # of the minima, and the median ratio of the frames timed one after the other.
                paired = statistics.median(a / b for a, b in zip(times["ours"], times["baseline"]))
                fastest = min(times["ours"]) / min(times["baseline"])
                rows.append({"height": height, "width": width, "boxes": PATH_BOXES,
                             "ours_ms": medians["ours"], "baseline_ms": medians["baseline"],
                             "ours_over_baseline": ratio, "ours_min_ms": min(times["ours"]),
                             "baseline_min_ms": min(times["baseline"]),
                             "min_ratio": fastest, "paired_ratio_median": paired})  # fmt: skip
                print(f"set_image + predict {width}x{height}, {PATH_BOXES} boxes: this checkout "
                      f"{medians['ours']:.1f} ms, baseline {medians['baseline']:.1f} ms "
                      f"({ratio:.3f}x; minima {fastest:.3f}x, paired frames {paired:.3f}x)")
        finally:
            for worker in workers.values():
                worker.close()
    return {"baseline": str(roots["baseline"]), "ours_sameo_core": workers["ours"].location,
            "baseline_sameo_core": workers["baseline"].location, "rows": rows}  # fmt: skip


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Benchmark SAMEO inference")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", default=None,
                        help="model size (default: the checkpoint's, else vitt)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--decoder-boxes", type=int, nargs="+",
                        default=list(DECODER_BOX_COUNTS),
                        help="box counts of the batched vs per-box decoder timing")
    parser.add_argument("--sync-boxes", type=int, nargs="+", default=list(SYNC_BOX_COUNTS),
                        help="box counts of the host-sync and op counts")
    parser.add_argument("--frame-sizes", nargs="+", default=[f"{w}x{h}" for h, w in
                                                             PATH_FRAME_SIZES],
                        help="WIDTHxHEIGHT frames of the path and baseline comparisons")
    parser.add_argument("--precision-scenes", type=int, default=PRECISION_SCENES,
                        help="procedural scenes of the bfloat16 agreement")
    parser.add_argument("--baseline", default=None,
                        help="another checkout (e.g. /work/base) to time side by side")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="what to measure (baseline: only with --baseline)")
    parser.add_argument("--json", default=None, help="write the results here")
    return parser


def benchmark_device(name: str, command: str) -> torch.device:
    """The device a benchmark runs on; a ValueError (exit 2) when CUDA is asked for and there
    is none."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{command} needs a CUDA GPU and none is available here "
                         "(torch.cuda.is_available() is False)")  # fmt: skip
    return device


def main(args: argparse.Namespace) -> dict[str, object]:
    device = benchmark_device(args.device, "--device cuda")
    if min(args.repeats, *args.sync_boxes, *args.decoder_boxes, args.precision_scenes) < 1:
        raise ValueError("--repeats, --decoder-boxes, --sync-boxes and --precision-scenes must "
                         "be ≥ 1")  # fmt: skip
    sizes = tuple(parse_size(text) for text in args.frame_sizes)
    if args.baseline:
        check_baseline(args)
    elif args.sections == ["baseline"]:
        raise ValueError("--sections baseline needs --baseline")
    torch.manual_seed(0)
    variant = args.variant or (None if args.checkpoint else "vitt")
    # Both heads, as the node runs: random weights get a random modal head.
    model = build_sameo(variant, args.checkpoint, modal_head=None if args.checkpoint else True)
    model = model.to(device)
    dtype = getattr(torch, args.dtype)
    predictor = AmodalPredictor(model, device, dtype, PredictorConfig())
    image = synthetic_frame()
    encoder = timed(lambda: predictor.set_image(image), args.repeats, device)
    name = variant or args.checkpoint
    print(f"encoder ({name}, {FRAME_SIZE[1]}x{FRAME_SIZE[0]} input): "
          f"{encoder['median_ms']:.1f} ms; heads {', '.join(predictor.heads)}")
    results = {
        **run_header("sameo_core.tools.inference_benchmark", device),
        "model": name, "dtype": args.dtype, "heads": list(predictor.heads),
        "encoder_ms": encoder["median_ms"],
    }
    sections = {
        "decoder": lambda: bench_decoder(predictor, args.repeats, tuple(args.decoder_boxes)),
        "frame_720p_20_boxes": lambda: bench_frame(model, predictor, args.repeats),
        "syncs_per_predict": lambda: bench_syncs(model, device, dtype, tuple(args.sync_boxes)),
        "postprocess_paths": lambda: bench_paths(model, device, dtype, args.repeats, sizes),
        "bfloat16_agreement": lambda: bench_precision(model, device, sizes,
                                                      args.precision_scenes),
        "against_baseline": lambda: bench_baseline(args.baseline, args, device, sizes),
    }
    for (key, run), section in zip(sections.items(), SECTIONS):
        if section in args.sections and (section != "baseline" or args.baseline):
            results[key] = run()
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
