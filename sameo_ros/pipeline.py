"""One frame through SAMEO: an Image message and its detections' prompts in, mask records out.

Shared by the node, the replay tool and the benchmark; ROS-free (messages are read by attribute,
see conversions.py) so that it runs on a rosbag without ROS installed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.model import build_sameo

from .conversions import Prompts, image_to_rgb
from .params import NodeConfig
from .visibility import visible_fraction, visible_masks


@dataclass(frozen=True)
class MaskRecord:
    """One amodal mask with everything an AmodalMask message carries."""

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


def build_predictor(config: NodeConfig) -> AmodalPredictor:
    """The SAMEO predictor the config asks for (random weights when no checkpoint is given)."""
    model = build_sameo(variant=config.variant or None, checkpoint=config.checkpoint or None)
    predictor_config = PredictorConfig(
        mask_threshold=config.mask_threshold, chunk_size=config.chunk_size, invalid_boxes="skip"
    )
    return AmodalPredictor(
        model, device=config.device, dtype=getattr(torch, config.dtype), config=predictor_config
    )


def select_prompts(prompts: Prompts, score_threshold: float, max_detections: int) -> list[int]:
    """Indices (in input order) of the highest-scoring prompts at or above the threshold."""
    ranked = sorted(
        (i for i in range(len(prompts)) if not prompts.scores[i] < score_threshold),
        key=lambda i: -prompts.scores[i],
    )
    return sorted(ranked[:max_detections])


class FramePipeline:
    """Runs the predictor on paired messages and turns its masks into MaskRecords."""

    def __init__(self, predictor: AmodalPredictor, config: NodeConfig) -> None:
        self.predictor = predictor
        self.config = config

    def process(self, image_msg: Any, prompts: Prompts) -> FrameResult:
        """Masks for the `prompts` of a Detection2DArray (conversions.detections_to_prompts or
        frame_cdr.decode_detections) on `image_msg`; ConversionError (a ValueError) for an
        unusable image."""
        t0 = time.perf_counter()
        rgb = image_to_rgb(image_msg)
        chosen = select_prompts(prompts, self.config.score_threshold, self.config.max_detections)
        t1 = time.perf_counter()
        masks, rejected = [], {}
        if chosen:
            self.predictor.set_image(rgb)
            prediction = self.predictor.predict(prompts.boxes[chosen], prompts.scores[chosen])
            masks = prediction.masks
            rejected = {prompts.ids[chosen[i]]: why for i, why in prediction.rejected.items()}
        t2 = time.perf_counter()
        records = self._records(masks, [chosen[m.index] for m in masks], prompts, rgb.shape[:2])
        t3 = time.perf_counter()
        timings = {"convert": t1 - t0, "model": t2 - t1, "visibility": t3 - t2}
        return FrameResult(rgb, records, rejected, {k: v * 1000.0 for k, v in timings.items()})

    @staticmethod
    def _records(
        masks: list, indices: list[int], prompts: Prompts, image_hw: tuple[int, int]
    ) -> list[MaskRecord]:
        visibles = visible_masks(
            [m.amodal.mask for m in masks],
            [m.amodal.offset for m in masks],
            [m.prompt_box for m in masks],
            image_hw,
        )
        return [
            MaskRecord(
                id=prompts.ids[i],
                class_id=prompts.class_ids[i],
                detector_score=float(prompts.scores[i]),
                score=float(m.score),
                iou=float(m.iou),
                prompt_box=np.asarray(m.prompt_box, np.float64),
                amodal_box=np.asarray(m.box, np.float64),
                offset=(int(m.amodal.offset[0]), int(m.amodal.offset[1])),
                mask=m.amodal.mask,
                visible=v,
                visible_fraction=visible_fraction(m.amodal.mask, v),
            )
            for m, i, v in zip(masks, indices, visibles)
        ]
