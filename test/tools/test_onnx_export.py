"""ONNX round trip: both exported graphs, run with onnxruntime, agree with PyTorch."""

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import torch

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import save_checkpoint


def test_export_command_and_onnxruntime_agree(tmp_path):
    torch.manual_seed(1)
    model = build_sameo("test")
    save_checkpoint(tmp_path / "model.pt", model)
    subprocess.run(
        [sys.executable, "-m", "sameo_core.tools.onnx_export",
         "--checkpoint", str(tmp_path / "model.pt"), "--out", str(tmp_path / "onnx")],
        check=True, capture_output=True,
    )
    encoder = ort.InferenceSession(str(tmp_path / "onnx" / "sameo_encoder.onnx"))
    decoder = ort.InferenceSession(str(tmp_path / "onnx" / "sameo_decoder.onnx"))

    images = torch.rand(1, 3, 57, 91)  # a size unlike the one used for export
    boxes = torch.tensor([[[1.0, 2, 30, 40], [10, 5, 80, 50], [0, 0, 91, 57]]])
    with torch.inference_mode():
        emb = model.image_embeddings(images)
        logits, iou = model.predict_masks(emb, boxes, (57, 91))
    (onnx_emb,) = encoder.run(None, {"images": images.numpy()})
    onnx_logits, onnx_iou = decoder.run(None, {
        "image_embeddings": onnx_emb, "boxes": boxes.numpy(),
        "image_size": np.array([57.0, 91.0], np.float32)})
    np.testing.assert_allclose(onnx_emb, emb.numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_logits, logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_iou, iou.numpy(), atol=1e-4)
