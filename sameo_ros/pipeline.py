"""One frame through SAMEO: paired input messages in, mask records out.

The one place in sameo_ros that calls the predictor (`FramePipeline._run_model`); the node's
topic worker and its service, and the replay tool, all go through `FramePipeline.process`.
ROS-free: messages are read by attribute (conversions.py), so it runs on a rosbag without ROS.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo

from .conversions import Prompts, byte_view, detections_to_prompts, is_compressed, stamp_ns, to_rgb
from .params import NodeConfig
from .visibility import visible_fraction, visible_masks


@dataclass(frozen=True)
class FrameInputs:
    """The messages that make one frame, paired by stamp (an optional input is one more field).

    image: sensor_msgs/Image or CompressedImage; detections: vision_msgs/Detection2DArray;
    points: PointPrompts[] (empty, or one per detection; from SegmentAmodal requests).
    """

    image: Any
    detections: Any
    points: Any = ()


@dataclass(frozen=True)
class MaskRecord:
    """One amodal mask with everything an AmodalMask message carries (messages.amodal_mask)."""

    id: str
    class_id: str
    detector_score: float
    score: float
    iou: float
    prompt_box: np.ndarray  # xyxy, clipped to the image
    amodal_box: np.ndarray  # xyxy of the mask, may leave the image
    offset: tuple[int, int]  # (x, y) of mask pixel (0, 0)
    mask: np.ndarray  # bool [h, w]
    visible: np.ndarray  # bool [h, w], same ROI
    visible_fraction: float


@dataclass
class FrameResult:
    image: np.ndarray  # the input as RGB uint8 [H, W, 3] (for the debug overlay)
    records: list[MaskRecord]
    rejected: dict[str, str] = field(default_factory=dict)  # detection id -> reason
    timings_ms: dict[str, float] = field(default_factory=dict)  # convert, model, visibility
    encoded: bool = True  # False when the image was the one encoded last (decoder only)


@dataclass(frozen=True)
class Selection:
    """Which detections of a frame are segmented (the runtime-changeable parameters)."""

    score_threshold: float = 0.0
    max_detections: int = 20


def build_predictor(config: NodeConfig) -> AmodalPredictor:
    """The SAMEO predictor the config asks for (random weights when no checkpoint is given)."""
    model = build_sameo(variant=config.variant or None, checkpoint=config.checkpoint or None)
    predictor_config = PredictorConfig(
        mask_threshold=config.mask_threshold, chunk_size=config.chunk_size, invalid_boxes="skip"
    )
    return AmodalPredictor(
        model, device=config.device, dtype=getattr(torch, config.dtype), config=predictor_config
    )


def select_prompts(prompts: Prompts, selection: Selection) -> list[int]:
    """Indices (in input order) of the highest-scoring prompts at or above the threshold."""
    ranked = sorted(
        (i for i in range(len(prompts)) if not prompts.scores[i] < selection.score_threshold),
        key=lambda i: -prompts.scores[i],
    )
    return sorted(ranked[: selection.max_detections])


class ImageKey:
    """What identifies an encoded image: stamp, frame_id, size/format and the bytes themselves.

    Holds a view of the message's data (no copy); equal keys mean the encoder may be skipped.
    """

    def __init__(self, msg: Any) -> None:
        layout = (msg.format,) if is_compressed(msg) else (
            int(msg.height), int(msg.width), msg.encoding, int(msg.step))  # fmt: skip
        self.fields = (stamp_ns(msg.header.stamp), str(msg.header.frame_id), *layout)
        self.data = byte_view(msg.data)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ImageKey)
            and self.fields == other.fields
            and np.array_equal(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable buffer: not hashable


class FramePipeline:
    """Runs the predictor on a frame's messages and turns its masks into MaskRecords.

    Thread-safe: one frame at a time holds the model (the node's worker and its service share
    it). The image encoder runs only when the image differs from the last one encoded.
    """

    def __init__(self, predictor: AmodalPredictor, selection: Selection) -> None:
        self.predictor: AmodalPredictor | None = predictor
        self.selection = selection
        self._lock = threading.Lock()
        self._encoded: ImageKey | None = None

    @classmethod
    def from_config(cls, config: NodeConfig) -> FramePipeline:
        selection = Selection(config.score_threshold, config.max_detections)
        return cls(build_predictor(config), selection)

    def update(self, selection: Selection, mask_threshold: float) -> None:
        """New runtime parameters; they apply from the next frame on."""
        with self._lock:
            self.selection = selection
            if self.predictor is not None:
                config = replace(self.predictor.config, mask_threshold=mask_threshold)
                self.predictor.config = config

    def process(self, inputs: FrameInputs) -> FrameResult:
        """Masks for the detections of `inputs` on its image. ConversionError (a ValueError) for
        an unusable image or prompts; other errors come from the model."""
        with self._lock:
            t0 = time.perf_counter()
            rgb = to_rgb(inputs.image)
            prompts = detections_to_prompts(inputs.detections, inputs.points)
            chosen = prompts.subset(select_prompts(prompts, self.selection))
            t1 = time.perf_counter()
            masks, rejected, encoded = self._run_model(rgb, ImageKey(inputs.image), chosen)
            t2 = time.perf_counter()
            records = self._records(masks, chosen, rgb.shape[:2])
            t3 = time.perf_counter()
        timings = {"convert": t1 - t0, "model": t2 - t1, "visibility": t3 - t2}
        return FrameResult(
            rgb, records, {chosen.ids[i]: why for i, why in rejected.items()},
            {k: v * 1000.0 for k, v in timings.items()}, encoded,
        )  # fmt: skip

    def _run_model(
        self, rgb: np.ndarray, key: ImageKey, prompts: Prompts
    ) -> tuple[list, dict[int, str], bool]:
        """The predictor's masks for `prompts`, the prompts it rejected (index in `prompts` ->
        reason), and whether the encoder ran. Every use of the predictor API is here."""
        if self.predictor is None:
            raise RuntimeError("the model was released (cleanup); configure the node again")
        if not len(prompts):
            return [], {}, False
        encoded = self._encoded is None or self._encoded != key
        if encoded:
            self._encoded = None  # a failing encoder leaves no stale embedding behind
            self.predictor.set_image(rgb)
            self._encoded = key
        prediction = self.predictor.predict(
            prompts.boxes, prompts.scores, points=prompts.points, point_labels=prompts.point_labels
        )
        return prediction.masks, dict(prediction.rejected), encoded

    @staticmethod
    def _records(masks: list, prompts: Prompts, image_hw: tuple[int, int]) -> list[MaskRecord]:
        visibles = visible_masks(
            [m.amodal.mask for m in masks],
            [m.amodal.offset for m in masks],
            [m.prompt_box for m in masks],
            image_hw,
        )
        return [
            MaskRecord(
                id=prompts.ids[m.index],
                class_id=prompts.class_ids[m.index],
                detector_score=float(prompts.scores[m.index]),
                score=float(m.score),
                iou=float(m.iou),
                prompt_box=np.asarray(m.prompt_box, np.float64),
                amodal_box=np.asarray(m.box, np.float64),
                offset=(int(m.amodal.offset[0]), int(m.amodal.offset[1])),
                mask=m.amodal.mask,
                visible=v,
                visible_fraction=visible_fraction(m.amodal.mask, v),
            )
            for m, v in zip(masks, visibles)
        ]

    def model_bytes(self) -> int:
        """Bytes of the model's parameters and buffers (0 once released)."""
        predictor = self.predictor
        if predictor is None:
            return 0
        tensors = [*predictor.model.parameters(), *predictor.model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    def release(self) -> None:
        """Drop the model and the image embedding, and give GPU memory back to the device."""
        with self._lock:
            if self.predictor is None:
                return
            device = self.predictor.device
            self.predictor = None
            self._encoded = None
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
