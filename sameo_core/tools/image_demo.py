"""Amodal masks, visible parts and the occlusion order for the objects of one image, drawn and
saved as COCO RLE.

    python -m sameo_core.tools.image_demo [--checkpoint CKPT] [--image IMG --annotations ANN] \
        --out DIR
    python -m sameo_core.tools.image_demo --checkpoint checkpoints/demo/sameo_shapes_demo.pt \
        --scene 0 --prompt visible --out DIR

By default: a COCO val2014 image with its raw COCOA annotations, installed with the package
(`sameo_core/tools/demo_data/`, see its README), with its annotated amodal boxes (or visible
boxes, `--prompt visible`) as prompts. `--scene SEED` instead makes a cluttered 640x480
procedural scene (6-8 shapes, most of them 30-70 % hidden; what the demo model was trained on)
with its true masks. Writes DIR/overlay.png (`sameo_core.visualize`: visible part solid, hidden
part hatched, arrows from each object to those it hides, labels with the visible share and the
layer rN; without a modal head the whole mask is solid and there is no order) and DIR/masks.json
(COCO results with RLE masks and refined scores), and prints the IoU of each mask with the
annotation. Without --checkpoint the network has seeded random weights: the masks then mean
nothing, and the demo says so.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import torch

from sameo_core.data import rle as rle_utils
from sameo_core.data.images import read_image_rgb
from sameo_core.data.procedural_scenes import CLUTTERED, generate_scene
from sameo_core.data.registry import read_dataset
from sameo_core.geometry import xywh_to_xyxy
from sameo_core.inference import AmodalPredictor, InstancePrediction
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.inference.predictor import pair_evidence
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.visualize import OverlayItem, draw_overlay

DEMO_IMAGE = resources.files("sameo_core.tools") / "demo_data" / "cocoa_5.jpg"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _coco_result(image_id: int, category_id: int, annotation_id: object,
                 mask: InstancePrediction, full: np.ndarray) -> dict:  # fmt: skip
    return {"image_id": image_id, "category_id": category_id,
            "segmentation": rle_utils.encode(full), "score": mask.score, "predicted_iou": mask.iou,
            "annotation_id": annotation_id}  # fmt: skip


def load_model(checkpoint: str | None, variant: str | None) -> torch.nn.Module:
    if checkpoint:
        print(f"weights: {checkpoint}")
        return build_sameo(variant, checkpoint)
    torch.manual_seed(0)
    print("weights: NONE GIVEN - seeded random ViT-T weights; the masks below are meaningless. "
          "Pass --checkpoint with an official EfficientSAM or SAMEO checkpoint.")
    return build_sameo(variant or "vitt")


@dataclass(frozen=True)
class DemoObject:
    """One annotated object of the demo image: what prompts it and what scores it."""

    name: str
    amodal: np.ndarray  # bool [H, W]
    visible_box: np.ndarray  # xyxy
    amodal_box: np.ndarray  # xyxy
    occlusion_rate: float
    category_id: int
    annotation_id: object


def cocoa_objects(image_path: Path, annotations: Path) -> tuple[np.ndarray, list[DemoObject]]:
    """A real image and its COCOA objects (stuff left out)."""
    records = [r for r in read_dataset("cocoa", annotations).records if not r.is_stuff]
    if not records:
        raise ValueError(f"{annotations} annotates no object to prompt with")
    return read_image_rgb(image_path), [
        DemoObject(r.category_name or "?", r.amodal_mask.astype(bool),
                   xywh_to_xyxy(r.visible_box), xywh_to_xyxy(r.amodal_box), r.occlusion_rate,
                   r.category_id or 1, r.annotation_id)
        for r in records
    ]  # fmt: skip


def scene_objects(seed: int) -> tuple[np.ndarray, list[DemoObject]]:
    """A cluttered 640x480 procedural scene (`procedural_scenes.CLUTTERED`) and its objects with
    a visible part."""
    rgb, instances = generate_scene(np.random.default_rng(seed), CLUTTERED)
    return rgb, [
        DemoObject(i.category_name, i.amodal_mask, xywh_to_xyxy(i.visible_box),
                   xywh_to_xyxy(i.amodal_box), i.occlusion_rate, i.category_id, k)
        for k, i in enumerate(instances) if i.visible_mask.any()
    ]  # fmt: skip


def run(args: argparse.Namespace) -> list[dict]:
    if args.scene is not None:
        if not 0 <= args.scene < 2**32:
            raise ValueError(f"--scene must be a seed in [0, 2^32), got {args.scene}")
        rgb, objects = scene_objects(args.scene)
    else:
        image_path = Path(args.image)
        rgb, objects = cocoa_objects(
            image_path, Path(args.annotations or image_path.with_suffix(".json")))
    predictor = AmodalPredictor(load_model(args.checkpoint, args.variant))
    encoder_s = predictor.set_image(rgb)
    use_amodal = args.prompt == "amodal"
    boxes = np.stack([o.amodal_box if use_amodal else o.visible_box for o in objects])
    prediction = predictor.predict(boxes)
    height, width = rgb.shape[:2]
    order = None
    if prediction.has_visible:
        order = occlusion_order([m.amodal for m in prediction.masks],
                                [m.visible for m in prediction.masks],
                                learned_evidence=pair_evidence(prediction.masks))  # fmt: skip
    results, items = [], []
    for k, (obj, mask) in enumerate(zip(objects, prediction.masks)):
        full = mask.amodal.paste(height, width)
        results.append(_coco_result(args.scene or 0, obj.category_id, obj.annotation_id, mask,
                                    full))  # fmt: skip
        iou = _iou(full, obj.amodal)
        print(f"  {k:2d} {obj.name:>16s}  occluded {obj.occlusion_rate:4.0%}  "
              f"predicted IoU {mask.iou:+.2f}  IoU with annotation {iou:.2f}")
        visible, label, occludes = None, f"{k} {obj.name}", ()
        if mask.visible is not None and order is not None:
            visible = mask.amodal.aligned(mask.visible)
            label += f" vis {mask.visible_fraction:.0%} r{order.rank[k]}"
            occludes = order.occludes[k]
        items.append(OverlayItem(mask.amodal, label, visible, mask.prompt_box, occludes))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overlay = draw_overlay(rgb, items)
    cv2.imwrite(str(out / "overlay.png"), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    (out / "masks.json").write_text(json.dumps(results, indent=1))
    if order is None:
        print("the network has no modal head: no visible masks and no occlusion order (the "
              "overlay shows each amodal mask solid)")
    else:
        print("occlusion order, front to back (rank: index ...): " + "; ".join(
            f"r{r}: " + " ".join(str(k) for k in order.front_to_back if order.rank[k] == r)
            for r in sorted(set(order.rank))))  # fmt: skip
    print(f"{len(results)} masks ({args.prompt} boxes): wrote {out / 'overlay.png'}, "
          f"{out / 'masks.json'}; encoder {encoder_s * 1e3:.0f} ms, "
          f"decoder {prediction.decoder_s * 1e3:.0f} ms")
    return results


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="SAMEO on one annotated image")
    parser.add_argument("--image", default=str(DEMO_IMAGE))
    parser.add_argument("--annotations", default=None, help="raw COCOA JSON (default: next to "
                        "the image, same name)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--prompt", choices=["amodal", "visible"], default="amodal")
    parser.add_argument("--scene", type=int, default=None, metavar="SEED",
                        help="a cluttered 640x480 procedural scene instead of the image")
    parser.add_argument("--out", default="out/demo")
    return parser


def main() -> None:
    run(get_args_parser().parse_args())


if __name__ == "__main__":
    cli.run(main)
