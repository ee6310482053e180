"""Amodal masks for the annotated objects of a real image, drawn and saved as COCO RLE.

    python -m sameo_core.demo [--checkpoint CKPT] [--image IMG --annotations ANN] --out DIR

By default: a COCO val2014 image of the COCOA demo sample (test/data/cocoa_demo, see its README)
with its annotated amodal boxes (or visible boxes, `--prompt visible`) as prompts. Writes
DIR/overlay.png (visible part solid, predicted occluded part hatched) and DIR/masks.json (COCO
results with RLE masks and refined scores), and prints the IoU of each mask with the annotation.
Without --checkpoint the network has seeded random weights: the masks then mean nothing, and the
demo says so.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from .data import rle as rle_utils
from .data.records import InstanceRecord
from .data.registry import read_dataset
from .model import build_sameo
from .predictor import AmodalMask, AmodalPredictor
from .visualize import OverlayItem, draw_overlay

DEMO_DATA = Path(__file__).resolve().parents[1] / "test" / "data" / "cocoa_demo"


def _xyxy(box_xywh: tuple[float, float, float, float]) -> list[float]:
    x, y, w, h = box_xywh
    return [x, y, x + w, y + h]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _coco_result(record: InstanceRecord, mask: AmodalMask, full: np.ndarray) -> dict:
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
    rgb = cv2.cvtColor(cv2.imread(str(image_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    predictor = AmodalPredictor(load_model(args.checkpoint, args.variant))
    predictor.set_image(rgb)
    use_amodal = args.prompt == "amodal"
    boxes = np.array([_xyxy(r.amodal_box if use_amodal else r.visible_box) for r in records])
    masks = predictor.predict(boxes)
    height, width = rgb.shape[:2]
    results, items = [], []
    for record, mask in zip(records, masks):
        full = mask.full_mask(height, width)
        results.append(_coco_result(record, mask, full))
        iou = _iou(full, record.amodal_mask)
        print(f"  {record.category_name or '?':>16s}  occluded {record.occlusion_rate:4.0%}  "
              f"predicted IoU {mask.iou:+.2f}  IoU with annotation {iou:.2f}")
        items.append(OverlayItem(mask.mask, mask.offset, record.category_name or "",
                                 box=mask.prompt_box))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overlay = draw_overlay(rgb, items)
    cv2.imwrite(str(out / "overlay.png"), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    (out / "masks.json").write_text(json.dumps(results, indent=1))
    print(f"{len(results)} masks ({args.prompt} boxes): wrote {out / 'overlay.png'}, "
          f"{out / 'masks.json'}; encoder {predictor.timings['encoder_s'] * 1e3:.0f} ms, "
          f"decoder {predictor.timings['decoder_s'] * 1e3:.0f} ms")
    return results


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="SAMEO on one annotated image")
    parser.add_argument("--image", default=str(DEMO_DATA / "5.jpg"))
    parser.add_argument("--annotations", default=None, help="raw COCOA JSON (default: next to "
                        "the image, same name)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--prompt", choices=["amodal", "visible"], default="amodal")
    parser.add_argument("--out", default="out/demo")
    return parser


if __name__ == "__main__":
    run(get_args_parser().parse_args())
