"""Accuracy and cost of 3D from depth (`sameo_core.inference.depth_lifting`) on held-out
synthetic RGB-D scenes with exact geometry (`sameo_core.data.rgbd_scenes`).

    python -m sameo_core.tools.depth_lifting_benchmark [--scenes 300] [--seed 20261201] \\
        [--size 640 480] [--checkpoint checkpoints/demo/sameo_shapes_demo.pt] \\
        [--masks gt predicted-amodal ...] \\
        [--timing-frames 5] [--timing-models checkpoint vitt] [--threads N] [--json OUT]

Accuracy, per mask source (`MASK_SOURCES`) and depth condition (the exact depth, and the depth
with `DepthNoise()`; both as 16UC1 millimetres, decoded as the node will decode them), over the
objects that have a visible part: the centroid error of the visible part and the object-depth
error as a share of the true depth; the extent error (the larger of the width and height errors)
of the amodal extent and, for comparison, of the visible part's box, on unoccluded, occluded and
half-hidden objects; on the pairs whose amodal masks overlap, the order from the depth evidence
alone and the occlusion order the node publishes (mask and depth evidence,
`sameo_core.inference.occlusion_order`); the outcomes.
Predicted masks come from the model prompted with each object's visible box (what a detector
gives); objects hidden entirely get no prompt.

Cost: per 640x480 frame with 20 detections, the lifting (16UC1 decoding + `lift_objects` with
the order evidence) with ground-truth masks and with the model's own masks, next to the model
(`set_image` + `predict` of the 20 boxes), timed side by side, alternating, in one run.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from sameo_core.camera import depth_to_metres
from sameo_core.data.rgbd_scenes import (
    DepthNoise,
    RgbdScene,
    RgbdSceneConfig,
    noisy_depth,
    random_rgbd_scene,
)
from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor, Prediction, PredictorConfig
from sameo_core.inference.depth_lifting import DepthLifting, lift_objects
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.model import SAMEO_CONFIGS, build_sameo
from sameo_core.tools import cli
from sameo_core.tools.inference_benchmark import run_header, timed_side_by_side, write_results

DEFAULT_CHECKPOINT = "checkpoints/demo/sameo_shapes_demo.pt"
DEPTH_ENCODING = "16UC1"
# 20 detections on a 640x480 frame: smaller planes over a deeper range, mostly side by side.
TIMING_SCENES = RgbdSceneConfig(
    num_objects=(20, 20), object_size_m=(0.05, 0.2), depth_range_m=(0.5, 1.9),
    background_depth_m=(2.0, 2.5), overlap_probability=0.3,
)

Masks = tuple[list[RoiMask], list[RoiMask]]


@dataclass(frozen=True)
class MaskSource:
    """Where the (visible, amodal) masks given to `lift_objects` come from.

    masks(scene, prediction) → one visible and one amodal RoiMask per scene object; prediction
    is the model's answer to the scene's visible boxes (`Prediction.masks[k].index` is the
    object index), None when `needs_model` is False. "predicted" is what the node does with a
    checkpoint that has a modal head.
    """

    description: str
    needs_model: bool
    masks: Callable[[RgbdScene, Prediction | None], Masks]


def _by_object(
    scene: RgbdScene, prediction: Prediction, visible: Callable[[object], RoiMask],
    amodal: Callable[[object], RoiMask],
) -> Masks:
    """Masks of the prediction placed at their object's index; empty for unprompted objects."""
    out_visible = [RoiMask.empty() for _ in scene.planes]
    out_amodal = [RoiMask.empty() for _ in scene.planes]
    for m in prediction.masks:
        out_visible[m.index], out_amodal[m.index] = visible(m), amodal(m)
    return out_visible, out_amodal


def _gt_visible(scene: RgbdScene, prediction: Prediction) -> Masks:
    _, amodal = _by_object(scene, prediction, lambda m: m.amodal, lambda m: m.amodal)
    return list(scene.visible), amodal


MASK_SOURCES: dict[str, MaskSource] = {
    "gt": MaskSource("ground-truth visible and amodal masks", False,
                     lambda s, p: (list(s.visible), list(s.amodal))),
    "predicted-amodal": MaskSource("ground-truth visible masks, the model's amodal masks", True,
                                   _gt_visible),
    "predicted": MaskSource(
        "the model's visible (modal head) and amodal masks, as the node uses them", True,
        lambda s, p: _by_object(s, p, lambda m: m.visible, lambda m: m.amodal)),
    "predicted-amodal-as-visible": MaskSource(
        "the model's amodal masks, also as the visible masks (a predictor without modal head)",
        True, lambda s, p: _by_object(s, p, lambda m: m.amodal, lambda m: m.amodal)),
}  # fmt: skip


def prompt_boxes(scene: RgbdScene, hidden_as_amodal: bool = False) -> tuple[np.ndarray, list]:
    """xyxy visible boxes of the objects a detector can see, and their object indices; with
    `hidden_as_amodal` an object hidden entirely is prompted with its amodal box instead."""
    boxes, indices = [], []
    for i, (visible, amodal) in enumerate(zip(scene.visible, scene.amodal)):
        if visible.area:
            boxes.append(visible.box())
        elif hidden_as_amodal:
            boxes.append(amodal.box())
        else:
            continue
        indices.append(i)
    return np.array(boxes, np.float64).reshape(-1, 4), indices


def predict(predictor: AmodalPredictor, scene: RgbdScene, hidden_as_amodal: bool) -> Prediction:
    """The model's masks for the scene's prompt boxes; `index` re-numbered to object indices."""
    boxes, indices = prompt_boxes(scene, hidden_as_amodal)
    predictor.set_image(scene.rgb)
    prediction = predictor.predict(boxes)
    masks = [replace(m, index=indices[m.index]) for m in prediction.masks]
    rejected = {indices[k]: reason for k, reason in prediction.rejected.items()}
    return Prediction(masks, rejected, prediction.decoder_s)


def lift(scene: RgbdScene, masks: Masks, raw_depth: np.ndarray) -> DepthLifting:
    """What the node does per frame: decode the depth image, lift every object."""
    return lift_objects(*masks, depth_to_metres(raw_depth, DEPTH_ENCODING), scene.intrinsics,
                        scene.depth_m.shape)  # fmt: skip


def _extent_error(size: np.ndarray, truth: np.ndarray) -> float:
    return float(np.max(np.abs(size / truth - 1)))


def score_frame(
    scene: RgbdScene, result: DepthLifting, masks: Masks
) -> tuple[list[dict], list[dict]]:
    """Per object with a visible part and per overlapping pair, the errors against the truth
    (`masks`: the visible and amodal masks that were lifted)."""
    visible, amodal = masks
    lifted = {o.index: o for o in result.objects}
    rates = scene.occlusion_rates()
    objects = []
    for i, plane in enumerate(scene.planes):
        if scene.visible[i].area == 0:
            continue
        row: dict = {"occlusion": float(rates[i]), "outcome": result.failed.get(i, "3D")}
        if i in lifted:
            o = lifted[i]
            row["centroid"] = float(np.linalg.norm(o.centroid - scene.visible_centroid_m[i])
                                    / plane.depth_m)  # fmt: skip
            row["depth"] = abs(o.depth / plane.depth_m - 1)
            row["amodal_extent"] = _extent_error(o.amodal_size[:2], scene.extent_m[i])
            visible_size = o.visible_box[3:5] - o.visible_box[:2]
            row["visible_extent"] = _extent_error(visible_size, scene.extent_m[i])
        objects.append(row)
    height, width = scene.depth_m.shape
    pairs = []
    order = occlusion_order(amodal, visible, result.order_evidence)
    for front, back in sorted(scene.occlusions()):
        i, j = sorted((front, back))
        score = result.order_evidence.get((i, j), 0.0)
        overlap = scene.amodal[front].paste(height, width) & scene.amodal[back].paste(height,
                                                                                      width)
        seen = bool((overlap & scene.visible[front].paste(height, width)).any())
        sign = 1.0 if front == i else -1.0
        verdict = "none" if score == 0 else ("right" if score * sign > 0 else "wrong")
        published = order.front_of(i, j)
        combined = "none" if published is None else ("right" if published == front else "wrong")
        pairs.append({"verdict": verdict, "combined": combined, "front_seen_in_overlap": seen})
    return objects, pairs


def _stats(values: list[float], within: float) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    array = np.array(values) * 100
    return {"n": len(values), "median_%": float(np.median(array)),
            "p95_%": float(np.percentile(array, 95)), "max_%": float(array.max()),
            f"within_{within:g}%": float(np.mean(array < within))}  # fmt: skip


def summarize(objects: list[dict], pairs: list[dict]) -> dict[str, object]:
    lifted = [o for o in objects if o["outcome"] == "3D"]
    groups = {"unoccluded": [o for o in lifted if o["occlusion"] == 0],
              "occluded": [o for o in lifted if o["occlusion"] > 0],
              "half_hidden": [o for o in lifted if o["occlusion"] >= 0.5]}  # fmt: skip
    extent = {name: {"amodal": _stats([o["amodal_extent"] for o in group], 5),
                     "visible": _stats([o["visible_extent"] for o in group], 5)}
              for name, group in groups.items()}  # fmt: skip
    decidable = [p for p in pairs if p["front_seen_in_overlap"]]
    return {
        "objects": len(objects), "outcomes": dict(Counter(o["outcome"] for o in objects)),
        "centroid": _stats([o["centroid"] for o in lifted], 1),
        "depth": _stats([o["depth"] for o in lifted], 1),
        "extent": extent,
        "order": {"pairs": len(pairs), **Counter(p["verdict"] for p in pairs),
                  "published": dict(Counter(p["combined"] for p in pairs)),
                  "front_seen_pairs": len(decidable),
                  "front_seen_right": sum(p["verdict"] == "right" for p in decidable)},
    }  # fmt: skip


def accuracy(
    args: argparse.Namespace, predictor: AmodalPredictor | None
) -> dict[str, dict[str, object]]:
    sources = {name: MASK_SOURCES[name] for name in args.masks}
    config = RgbdSceneConfig(width=args.size[0], height=args.size[1])
    rows: dict[tuple[str, str], tuple[list, list]] = {
        (name, cond): ([], []) for name in sources for cond in ("exact", "noisy")
    }
    for k in range(args.scenes):
        scene = random_rgbd_scene(np.random.default_rng([args.seed, k]), config)
        noisy = noisy_depth(scene.depth_m, np.random.default_rng([args.seed, k, 1]), DepthNoise())
        depths = {"exact": scene.depth_image(DEPTH_ENCODING),
                  "noisy": scene.depth_image(DEPTH_ENCODING, noisy)}  # fmt: skip
        prediction = None
        if predictor is not None and any(s.needs_model for s in sources.values()):
            prediction = predict(predictor, scene, hidden_as_amodal=False)
        for name, source in sources.items():
            masks = source.masks(scene, prediction)
            for cond, raw in depths.items():
                objects, pairs = score_frame(scene, lift(scene, masks, raw), masks)
                rows[(name, cond)][0].extend(objects)
                rows[(name, cond)][1].extend(pairs)
    report: dict[str, dict[str, object]] = {}
    for (name, cond), (objects, pairs) in rows.items():
        report.setdefault(name, {})[cond] = summarize(objects, pairs)
    return report


def load_model(spec: str, checkpoint: str | None) -> torch.nn.Module:
    """"checkpoint" = the --checkpoint file; a variant name = that size with seeded random
    weights (speed does not depend on the weights)."""
    if spec == "checkpoint":
        if checkpoint is None:
            raise ValueError("--timing-models checkpoint needs --checkpoint")
        return build_sameo(checkpoint=checkpoint)
    if spec not in SAMEO_CONFIGS:
        raise ValueError(f"unknown timing model {spec!r}: 'checkpoint' or one of "
                         f"{sorted(SAMEO_CONFIGS)}")  # fmt: skip
    torch.manual_seed(0)
    return build_sameo(spec)


def time_frame(
    predictor: AmodalPredictor, scene: RgbdScene, raw: np.ndarray, repeats: int
) -> dict[str, float]:
    """Median ms of the model and of the lifting (GT masks; the model's own masks, amodal as
    visible) on one frame, run alternately (`timed_side_by_side`)."""
    boxes, _ = prompt_boxes(scene, hidden_as_amodal=True)
    own = MASK_SOURCES["predicted-amodal-as-visible"].masks(
        scene, predict(predictor, scene, hidden_as_amodal=True))
    gt = MASK_SOURCES["gt"].masks(scene, None)

    def run_model() -> None:
        predictor.set_image(scene.rgb)
        predictor.predict(boxes)

    times = timed_side_by_side({
        "model": run_model, "lifting_gt": lambda: lift(scene, gt, raw),
        "lifting_model": lambda: lift(scene, own, raw),
    }, repeats, predictor.device)  # fmt: skip
    pairs = len(lift(scene, gt, raw).order_evidence)
    return {"detections": len(boxes), "overlapping_pairs": pairs,
            **{f"{name}_ms": t["median_ms"] for name, t in times.items()}}  # fmt: skip


def timing(args: argparse.Namespace, device: torch.device) -> dict[str, dict[str, object]]:
    frames = [random_rgbd_scene(np.random.default_rng([args.seed, 1, k]), TIMING_SCENES)
              for k in range(args.timing_frames)]  # fmt: skip
    raws = [scene.depth_image(DEPTH_ENCODING) for scene in frames]
    report = {}
    for spec in args.timing_models:
        predictor = AmodalPredictor(load_model(spec, args.checkpoint), device,
                                    config=PredictorConfig(invalid_boxes="skip"))  # fmt: skip
        rows = [time_frame(predictor, frame, raw, args.repeats)
                for frame, raw in zip(frames, raws)]  # fmt: skip
        r = {f"{key}_median": statistics.median(row[key] for row in rows) for key in rows[0]}
        r["frames"] = len(rows)
        r["share_gt"] = r["lifting_gt_ms_median"] / r["model_ms_median"]
        r["share_model_masks"] = r["lifting_model_ms_median"] / r["model_ms_median"]
        report[spec] = r
        print(f"timing {spec}: model {r['model_ms_median']:.1f} ms, lifting "
              f"{r['lifting_gt_ms_median']:.2f} ms with GT masks ({100 * r['share_gt']:.2f} % of "
              f"the model), {r['lifting_model_ms_median']:.2f} ms with its own masks "
              f"({100 * r['share_model_masks']:.2f} %); {r['detections_median']:g} detections, "
              f"{r['overlapping_pairs_median']:g} overlapping pairs, {len(rows)} frames")
    return report


def _print_accuracy(report: dict[str, dict[str, object]]) -> None:
    print("| masks | depth | objects | with 3D | centroid median / p95 / < 1 % | depth median "
          "| amodal extent occluded: median / p95 / < 5 % | visible-box extent, occluded "
          "| amodal extent, unoccluded | order from depth right / wrong / none "
          "| published order right / wrong / none |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, conditions in report.items():
        for cond, s in conditions.items():
            c, d, ext, order = s["centroid"], s["depth"], s["extent"], s["order"]
            published = order["published"]

            def cell(stats: dict, within: str) -> str:
                if not stats["n"]:
                    return "-"
                return (f"{stats['median_%']:.2f} / {stats['p95_%']:.2f} % / "
                        f"{100 * stats[within]:.0f} %")  # fmt: skip

            lifted = s["outcomes"].get("3D", 0)
            print(f"| {name} | {cond} | {s['objects']} | {lifted} | {cell(c, 'within_1%')} | "
                  f"{d['median_%']:.2f} % | {cell(ext['occluded']['amodal'], 'within_5%')} | "
                  f"{cell(ext['occluded']['visible'], 'within_5%')} | "
                  f"{cell(ext['unoccluded']['amodal'], 'within_5%')} | "
                  f"{order.get('right', 0)} / {order.get('wrong', 0)} / {order.get('none', 0)} "
                  f"of {order['pairs']} | {published.get('right', 0)} / "
                  f"{published.get('wrong', 0)} / {published.get('none', 0)} |")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Accuracy and cost of 3D from depth")
    parser.add_argument("--scenes", type=int, default=300, help="held-out accuracy scenes")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"),
                        help="image size of the accuracy scenes (the camera scales with it)")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help="model for the predicted masks and the 'checkpoint' timing model")
    parser.add_argument("--masks", nargs="+", default=list(MASK_SOURCES),
                        choices=list(MASK_SOURCES), help="mask sources of the accuracy part")
    parser.add_argument("--timing-frames", type=int, default=5)
    parser.add_argument("--timing-models", nargs="*", default=["checkpoint", "vitt"],
                        help="'checkpoint' and/or variant names with random weights")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); the lifting uses one core")
    parser.add_argument("--json", default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict[str, object]:
    if args.scenes < 0 or args.timing_frames < 0 or args.repeats < 1:
        raise ValueError("--scenes and --timing-frames must be ≥ 0, --repeats ≥ 1")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be ≥ 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    needs_model = any(MASK_SOURCES[m].needs_model for m in args.masks) and args.scenes > 0
    predictor = None
    if needs_model:
        model = build_sameo(checkpoint=args.checkpoint)
        predictor = AmodalPredictor(model, device, config=PredictorConfig(invalid_boxes="skip"))
    results: dict[str, object] = {
        **run_header("sameo_core.tools.depth_lifting_benchmark", device),
        "seed": args.seed, "scenes": args.scenes, "size": args.size,
        "checkpoint": args.checkpoint, "noise": asdict(DepthNoise()),
        "mask_sources": {name: MASK_SOURCES[name].description for name in args.masks},
    }  # fmt: skip
    if args.scenes:
        results["accuracy"] = accuracy(args, predictor)
        _print_accuracy(results["accuracy"])
    if args.timing_frames and args.timing_models:
        results["timing_640x480_20_detections"] = timing(args, device)
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
