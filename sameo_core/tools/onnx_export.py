"""Export the SAMEO encoder and decoder as two ONNX graphs.

    python -m sameo_core.tools.onnx_export --variant vitt --checkpoint CKPT --out DIR

Writes DIR/sameo_encoder.onnx (images [1, 3, H, W] float RGB in [0, 1], any H and W →
image_embeddings [1, C, g, g]) and DIR/sameo_decoder.onnx (image_embeddings, boxes [1, Q, 4] xyxy
pixels, image_size [2] float (H, W) → low_res_logits [1, Q, 3, 4g, 4g], iou_predictions [1, Q, 3]).
Upsampling and mask selection stay outside the graphs (see `sameo_core.inference.postprocess`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from torch import nn

from sameo_core.model import Sameo, build_sameo
from sameo_core.tools import cli

OPSET = 17


class EncoderGraph(nn.Module):
    def __init__(self, model: Sameo) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.image_embeddings(images)


class DecoderGraph(nn.Module):
    def __init__(self, model: Sameo) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, image_embeddings: torch.Tensor, boxes: torch.Tensor, image_size: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.predict_masks(image_embeddings, boxes, image_size)


def export_onnx(model: Sameo, out_dir: str | Path) -> tuple[Path, Path]:
    """Write both graphs; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval().float()
    size = model.config.img_size
    images = torch.rand(1, 3, size // 2 + 8, size // 2 + 24)
    with torch.no_grad():
        embeddings = model.image_embeddings(images)
    boxes = torch.tensor([[[4.0, 6.0, 40.0, 50.0], [10.0, 12.0, 30.0, 44.0]]])
    image_size = torch.tensor([float(images.shape[2]), float(images.shape[3])])
    encoder_path, decoder_path = out_dir / "sameo_encoder.onnx", out_dir / "sameo_decoder.onnx"
    with warnings.catch_warnings():
        # Shape checks become constants in the traced graphs; inputs are validated by callers.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        _export_both(model, (images,), (embeddings, boxes, image_size), encoder_path,
                     decoder_path)
    return encoder_path, decoder_path


def _export_both(
    model: Sameo, encoder_inputs: tuple, decoder_inputs: tuple, encoder_path: Path,
    decoder_path: Path,
) -> None:
    torch.onnx.export(
        EncoderGraph(model), encoder_inputs, str(encoder_path), dynamo=False, opset_version=OPSET,
        input_names=["images"], output_names=["image_embeddings"],
        dynamic_axes={"images": {2: "height", 3: "width"}},
    )
    torch.onnx.export(
        DecoderGraph(model), decoder_inputs, str(decoder_path), dynamo=False,
        opset_version=OPSET, input_names=["image_embeddings", "boxes", "image_size"],
        output_names=["low_res_logits", "iou_predictions"],
        dynamic_axes={"boxes": {1: "num_boxes"}, "low_res_logits": {1: "num_boxes"},
                      "iou_predictions": {1: "num_boxes"}},
    )


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default=None, help="model size (default: from checkpoint)")
    parser.add_argument("--checkpoint", default=None, help="weights to export")
    parser.add_argument("--out", required=True, help="output folder")
    return parser


def main(args: argparse.Namespace) -> None:
    if args.variant is None and args.checkpoint is None:
        raise ValueError("give --variant, --checkpoint or both")
    model = build_sameo(args.variant, args.checkpoint)
    for path in export_onnx(model, args.out):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    cli.run(lambda: main(get_args_parser().parse_args()))
