"""Amodal masks for the annotated objects of a real image, drawn and saved as COCO RLE.

    python -m sameo_core.tools.image_demo [--checkpoint CKPT] [--image IMG --annotations ANN] \
        --out DIR

By default: a COCO val2014 image with its raw COCOA annotations, installed with the package
(`sameo_core/tools/demo_data/`, see its README), with its annotated amodal boxes (or visible
boxes, `--prompt visible`) as prompts. Writes
DIR/overlay.png (visible part solid, predicted occluded part hatched; the visible part is the
modal head's when the network has one, else the whole mask is solid) and DIR/masks.json (COCO
results with RLE masks and refined scores), and prints the IoU of each mask with the annotation.
Without --checkpoint the network has seeded random weights: the masks then mean nothing, and the
demo says so.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import torch

from sameo_core.data import rle as rle_utils
from sameo_core.data.images import read_image_rgb
from sameo_core.data.records import InstanceRecord
from sameo_core.data.registry import read_dataset
from sameo_core.geometry import xywh_to_xyxy
from sameo_core.inference import AmodalPredictor, InstancePrediction
from sameo_core.model import build_sameo
from sameo_core.tools import cli
from sameo_core.visualize import OverlayItem, draw_overlay

DEMO_IMAGE = resources.files("sameo_core.tools") / "demo_data" / "cocoa_5.jpg"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _coco_result(record: InstanceRecord, mask: InstancePrediction, full: np.ndarray) -> dict:
    return {"image_id": record.image_id, "category_id": record.category_id or 1,
            "segmentation": rle_utils.encode(full), "score": mask.score, "predicted_iou": mask.iou,
            "annotation_id": record.annotation_id}


def load_model(checkpoint: str | None, variant: str | None) -> torch.nn.Module:
    if checkpoint:
        print(f"weights: {checkpoint}")
        return build_sameo(variant, checkpoint)
    torch.manual_seed(0)
    print("weights: NONE GIVEN - seeded random ViT-T weights; the masks below are meaningless. "
          "Pass --checkpoint with an official EfficientSAM or SAMEO checkpoint.")
    return build_sameo(variant or "vitt")


def run(args: argparse.Namespace) -> list[dict]:
    image_path = Path(args.image)
    annotations = Path(args.annotations or image_path.with_suffix(".json"))
    records = [r for r in read_dataset("cocoa", annotations).records if not r.is_stuff]
    if not records:
        raise ValueError(f"{annotations} annotates no object to prompt with")
    rgb = read_image_rgb(image_path)
    predictor = AmodalPredictor(load_model(args.checkpoint, args.variant))
    encoder_s = predictor.set_image(rgb)
    use_amodal = args.prompt == "amodal"
    boxes = xywh_to_xyxy([r.amodal_box if use_amodal else r.visible_box for r in records])
    prediction = predictor.predict(boxes)
    height, width = rgb.shape[:2]
    results, items = [], []
    for record, mask in zip(records, prediction.masks):
        full = mask.amodal.paste(height, width)
        results.append(_coco_result(record, mask, full))
        iou = _iou(full, record.amodal_mask)
        print(f"  {record.category_name or '?':>16s}  occluded {record.occlusion_rate:4.0%}  "
              f"predicted IoU {mask.iou:+.2f}  IoU with annotation {iou:.2f}")
        visible = None if mask.visible is None else mask.amodal.aligned(mask.visible)
        items.append(OverlayItem(mask.amodal, record.category_name or "", visible,
                                 mask.prompt_box))  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overlay = draw_overlay(rgb, items)
    cv2.imwrite(str(out / "overlay.png"), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    (out / "masks.json").write_text(json.dumps(results, indent=1))
    if not prediction.has_visible:
        print("the network has no modal head: no visible masks (the overlay shows each amodal "
              "mask solid)")
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
    parser.add_argument("--out", default="out/demo")
    return parser


def main() -> None:
    run(get_args_parser().parse_args())


if __name__ == "__main__":
    cli.run(main)
