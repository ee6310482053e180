"""Numpy-in / numpy-out amodal prediction for one image and many box prompts.

With a network that has a modal head (`Sameo.has_modal_head`), every box also gets its visible
mask and its hidden part. The rule for a pixel that the modal head calls visible but the amodal
head leaves outside the object: it is dropped, visible := modal ∩ amodal (and counted in
`InstancePrediction.visible_outside_amodal`). The amodal mask stays exactly SAMEO's output, the
visible mask is a subset of it as in every annotated amodal dataset (the readers clamp the same
way, `sameo_core/data/validate.py`), and visible and hidden part split the amodal mask exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from sameo_core.geometry import RoiMask, as_box_array, sanitize_boxes
from sameo_core.model import Sameo
from sameo_core.model.sameo import Head

from .postprocess import upsample_mask_roi

MaskSelection = Literal["best_iou", "first", "single"]


@dataclass(frozen=True)
class PredictorConfig:
    """Inference settings.

    mask_selection: "best_iou" takes, of the three outputs, the one with the highest predicted
      IoU (the authors' evaluation code and the official examples); "first" takes output 0 of
      the three; "single" runs the single-mask token instead.
    chunk_size: boxes decoded per batched decoder call; None picks 4 on CPU (on a 2-core CPU
      chunks of 2–4 beat both one call per box and one call for all boxes, see BENCHMARKS.md)
      and 64 on CUDA.
    invalid_boxes: "raise" a ValueError naming the bad boxes, or "skip" them (reasons in
      `Prediction.rejected`).
    modal: run the modal head, when the network has one, for visible masks and hidden parts
      (same chunks, same mask selection and threshold); False skips that decoder pass.
    """

    mask_threshold: float = 0.0
    chunk_size: int | None = None
    mask_selection: MaskSelection = "best_iou"
    invalid_boxes: Literal["raise", "skip"] = "raise"
    modal: bool = True

    def __post_init__(self) -> None:
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError("chunk_size must be ≥ 1")
        if self.mask_selection not in ("best_iou", "first", "single"):
            raise ValueError(f"unknown mask_selection {self.mask_selection!r}")
        if self.invalid_boxes not in ("raise", "skip"):
            raise ValueError(f"invalid_boxes must be 'raise' or 'skip': {self.invalid_boxes!r}")


@dataclass(frozen=True)
class InstancePrediction:
    """The amodal mask SAMEO predicts for one prompt box.

    index: position of the prompt in the boxes given to `predict`.
    amodal: the amodal mask, cropped to its region (`RoiMask`: bool crop + signed offset).
    iou: the raw predicted IoU of the chosen output (not clamped, as the authors use it).
    score: refined score ρ_front × ρ_ours (paper eq. 6); ρ_front = 1 without detector scores.
    prompt_box: the prompt as used, xyxy, clipped to the image.
    box: xyxy extent of the amodal mask in image pixels (exclusive ends; may leave the image),
      zeros if the mask is empty.
    With a modal head (else None; `Prediction.heads` says which heads ran):
    visible: the visible mask, the modal head's mask inside the amodal mask (see the module
      docstring), as its own tight crop.
    hidden: the hidden part, amodal minus visible, as its own tight crop.
    visible_iou: the raw predicted IoU of the modal head's chosen output.
    visible_fraction: |visible| / |amodal| (NaN for an empty amodal mask).
    visible_outside_amodal: modal-head pixels dropped because the amodal mask lacks them.
    """

    index: int
    amodal: RoiMask
    iou: float
    score: float
    prompt_box: np.ndarray
    box: np.ndarray
    visible: RoiMask | None = None
    hidden: RoiMask | None = None
    visible_iou: float | None = None
    visible_fraction: float | None = None
    visible_outside_amodal: int = 0


@dataclass(frozen=True)
class Prediction:
    """What one `AmodalPredictor.predict` call produced.

    masks: one InstancePrediction per accepted prompt, in prompt order.
    rejected: {prompt index: reason} of the prompts that got no mask (see
      `sameo_core.geometry.sanitize_boxes`); empty with `invalid_boxes="raise"`.
    decoder_s: wall time of the call (prompt encoding, mask decoding of every head, upsampling).
    heads: the decoders that ran: ("amodal",), or ("amodal", "modal") when the masks carry
      visible masks and hidden parts.
    """

    masks: list[InstancePrediction]
    rejected: dict[int, str]
    decoder_s: float
    heads: tuple[Head, ...] = ("amodal",)

    @property
    def has_visible(self) -> bool:
        return "modal" in self.heads


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [H, W, 3] RGB, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")


class AmodalPredictor:
    """Runs the encoder once per image (`set_image`) and decodes boxes in batches (`predict`),
    with the amodal head and, when the network has one, the modal head."""

    def __init__(
        self, model: Sameo, device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32, config: PredictorConfig | None = None,
    ) -> None:
        self.device = torch.device(device)
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, not {dtype}")
        if dtype != torch.float32 and self.device.type != "cuda":
            raise ValueError("float16/bfloat16 autocast is for CUDA; use float32 on CPU")
        self.model = model.to(self.device).eval()
        self.dtype = dtype
        self.config = config or PredictorConfig()
        self._embeddings: torch.Tensor | None = None
        self._image_size: tuple[int, int] | None = None
        self.heads: tuple[Head, ...] = ("amodal",)
        if self.model.has_modal_head and self.config.modal:
            self.heads = ("amodal", "modal")

    @property
    def has_modal_head(self) -> bool:
        """Whether the network has a modal head (visible masks need one)."""
        return self.model.has_modal_head

    def _autocast(self) -> torch.autocast:
        enabled = self.dtype != torch.float32
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)

    @property
    def image_size(self) -> tuple[int, int] | None:
        return self._image_size

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> float:
        """Encode an RGB uint8 [H, W, 3] image, replacing any previous one; returns the time the
        encoder took (seconds)."""
        _check_image(image)
        start = time.perf_counter()
        # torch cannot wrap read-only memory (e.g. a view of received message bytes): copy it.
        pixels = np.ascontiguousarray(image) if image.flags.writeable else np.array(image)
        tensor = torch.from_numpy(pixels).to(self.device)
        tensor = tensor.permute(2, 0, 1)[None].float().div_(255.0)
        with self._autocast():
            self._embeddings = self.model.image_embeddings(tensor)
        self._image_size = (image.shape[0], image.shape[1])
        self._sync()
        return time.perf_counter() - start

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def reset_image(self) -> None:
        self._embeddings, self._image_size = None, None

    @torch.inference_mode()
    def predict(
        self, boxes: np.ndarray, scores: np.ndarray | None = None,
        points: np.ndarray | None = None, point_labels: np.ndarray | None = None,
    ) -> Prediction:
        """Amodal masks for xyxy pixel boxes [N, 4] of the current image.

        scores: optional detector scores [N] (ρ_front). points / point_labels: optional clicks
        per box, [N, P, 2] pixels and [N, P] labels (1 positive, 0 negative, -1 ignored), P ≤ 4.
        Invalid boxes (non-finite, zero/negative size, outside the image, non-finite score)
        raise a ValueError or are left out, per `config.invalid_boxes`; boxes reaching out of
        the image are clipped to it. An empty box list gives no masks.
        """
        if self._embeddings is None or self._image_size is None:
            raise RuntimeError("call set_image() before predict()")
        start = time.perf_counter()
        boxes = as_box_array(boxes)
        scores = self._check_per_box(scores, len(boxes), "scores", (len(boxes),))
        points, point_labels = self._check_points(points, point_labels, len(boxes))
        clipped, rejected = sanitize_boxes(boxes, self._image_size, scores)
        if rejected and self.config.invalid_boxes == "raise":
            raise ValueError(f"invalid boxes (index: reason): {rejected}")
        keep = [i for i in range(len(boxes)) if i not in rejected]
        chunk_size = self.config.chunk_size or (64 if self.device.type == "cuda" else 4)
        results = []
        for chunk_start in range(0, len(keep), chunk_size):
            chunk = keep[chunk_start : chunk_start + chunk_size]
            results.extend(self._predict_chunk(chunk, clipped, scores, points, point_labels))
        self._sync()
        return Prediction(results, rejected, time.perf_counter() - start, self.heads)

    @staticmethod
    def _check_per_box(
        values: np.ndarray | None, n: int, name: str, shape: tuple[int, ...]
    ) -> np.ndarray | None:
        if values is None:
            return None
        array = np.asarray(values)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for {n} boxes, got {array.shape}")
        return array.astype(np.float64)

    def _check_points(
        self, points: np.ndarray | None, labels: np.ndarray | None, n: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if points is None and labels is None:
            return None, None
        if points is None or labels is None:
            raise ValueError("points and point_labels must be given together")
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 3 or points.shape[0] != n or points.shape[2] != 2:
            raise ValueError(f"points must be [N={n}, P, 2], got {points.shape}")
        if points.shape[1] > self.model.config.max_points - 2:
            raise ValueError(f"at most {self.model.config.max_points - 2} points per box")
        if not np.isfinite(points).all():
            raise ValueError("points must be finite")
        labels = self._check_per_box(labels, n, "point_labels", points.shape[:2])
        if not np.isin(labels, (-1, 0, 1)).all():
            raise ValueError("point_labels must be 1 (positive), 0 (negative) or -1 (ignored)")
        return points, labels

    def _decode(
        self, boxes: torch.Tensor, points: torch.Tensor | None, labels: torch.Tensor | None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head of `self.heads`: chosen logits [n, h, w] (float32) and their raw IoU [n].

        The prompts are encoded once; each head decodes the chunk in one batched call.
        """
        multimask = self.config.mask_selection != "single"
        with self._autocast():
            corners, corner_labels = self.model.box_prompts(
                boxes[None], None if points is None else points[None],
                None if labels is None else labels[None],
            )
            sparse = self.model.encode_prompts(corners, corner_labels, self._image_size)
            outputs = [self.model.decode_sparse(self._embeddings, sparse, multimask, head=head)
                       for head in self.heads]  # fmt: skip
        chosen = []
        for logits, iou in outputs:
            logits, iou = logits[0].float(), iou[0].float()
            if self.config.mask_selection == "best_iou":
                choice = iou.argmax(dim=1)
            else:
                choice = torch.zeros(len(iou), dtype=torch.long, device=iou.device)
            rows = torch.arange(len(iou), device=iou.device)
            chosen.append((logits[rows, choice], iou[rows, choice]))
        return chosen

    def _predict_chunk(
        self, chunk: list[int], boxes: np.ndarray, scores: np.ndarray | None,
        points: np.ndarray | None, labels: np.ndarray | None,
    ) -> list[InstancePrediction]:
        def to_tensor(array: np.ndarray | None) -> torch.Tensor | None:
            if array is None:
                return None
            return torch.as_tensor(array[chunk], dtype=torch.float32, device=self.device)

        heads = self._decode(to_tensor(boxes), to_tensor(points), to_tensor(labels))
        (logits, ious), modal = heads[0], heads[1] if len(heads) > 1 else None
        results = []
        for row, index in enumerate(chunk):
            amodal = self._upsample(logits[row])
            iou = float(ious[row])
            front = 1.0 if scores is None else float(scores[index])
            visible = {} if modal is None else self._visible(amodal, modal[0][row], modal[1][row])
            results.append(InstancePrediction(
                index=index, amodal=amodal, iou=iou, score=front * iou,
                prompt_box=boxes[index].astype(np.float32), box=amodal.box().astype(np.float32),
                **visible,
            ))
        return results

    def _upsample(self, logits: torch.Tensor) -> RoiMask:
        return RoiMask(*upsample_mask_roi(logits, self._image_size, self.config.mask_threshold))

    def _visible(self, amodal: RoiMask, logits: torch.Tensor, iou: torch.Tensor) -> dict:
        """The visible mask (modal ∩ amodal), hidden part and visible fraction of one box."""
        modal = self._upsample(logits)
        visible = modal.intersect(amodal)
        area = amodal.area
        return {
            "visible": visible, "hidden": amodal.subtract(visible), "visible_iou": float(iou),
            "visible_fraction": visible.area / area if area else float("nan"),
            "visible_outside_amodal": modal.area - visible.area,
        }


__all__ = ["AmodalPredictor", "InstancePrediction", "Prediction", "PredictorConfig"]
