"""Numpy-in / numpy-out amodal prediction for one image and many box prompts.

With a network that has a modal head (`Sameo.has_modal_head`), every box also gets its visible
mask and its hidden part. The rule for a pixel that the modal head calls visible but the amodal
head leaves outside the object: it is dropped, visible := modal ∩ amodal (and counted in
`InstancePrediction.visible_outside_amodal`). The amodal mask stays exactly SAMEO's output, the
visible mask is a subset of it as in every annotated amodal dataset (the readers clamp the same
way, `sameo_core/data/validate.py`), and visible and hidden part split the amodal mask exactly.

With a network that also has the optional pairwise order head (`Sameo.has_order_head`), the
same call scores the pairs of masks whose amodal boxes overlap, on the device, from the chosen
low-resolution logits of both heads (`sameo_core/model/order_head.py`): at most
MAX_ORDER_PAIRS pairs per call, those with the largest box intersections; one more host sync.
The scores are `Prediction.pair_order`, the learned evidence of `occlusion_order`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch

from sameo_core.geometry import RoiMask, as_box_array, overlapping_box_pairs, sanitize_boxes
from sameo_core.model import Sameo
from sameo_core.model.sameo import Head

from .batched_postprocess import COLUMN, batched_masks, choose_outputs
from .host_syncs import copy_to_device, copy_to_host
from .postprocess import upsample_mask_roi
from .stage_times import StageClock, StageTimes

MaskSelection = Literal["best_iou", "first", "single"]
PostprocessPath = Literal["auto", "batched", "roi"]

# Bounds of what one call may ask for (work and memory grow with them).
MAX_IMAGE_PIXELS = 7680 * 4320  # 8K UHD, 33 Mpx per image
MAX_IMAGES = 16  # images encoded together by `set_images`
MAX_BOXES = 2048  # prompts per `predict`
# Pairs the order head scores per `predict` (each costs two 16 x 16 pooled patches and the head's
# ~15 k-parameter net twice); beyond it, the pairs with the largest amodal-box intersections.
MAX_ORDER_PAIRS = 4096
# chunk_size="auto": boxes per decoder call. On a CPU chunks of 2-4 are fastest (BENCHMARKS.md,
# "Model inference"); on CUDA every box in one call, up to MAX_CUDA_CHUNK (decoder activations
# grow linearly with the boxes of a call).
CPU_CHUNK = 4
MAX_CUDA_CHUNK = 256
# postprocess="auto" on a CPU: the per-box ROI upsampling, measured faster there than the full
# image batched pass (BENCHMARKS.md, "One batched device pass per frame").
CPU_POSTPROCESS: PostprocessPath = "roi"


@dataclass(frozen=True)
class PredictorConfig:
    """Inference settings.

    mask_threshold: logits at or above it are mask pixels (finite).
    mask_selection: "best_iou" takes, of the three outputs, the one with the highest predicted
      IoU (the authors' evaluation code and the official examples); "first" takes output 0 of
      the three; "single" runs the single-mask token instead.
    chunk_size: boxes decoded per batched decoder call; "auto" (or None) picks 4 on a CPU (on a
      2-core CPU chunks of 2–4 beat both one call per box and one call for all boxes, see
      BENCHMARKS.md) and all boxes of the call (at most 256) on CUDA. A number always wins.
    invalid_boxes: "raise" a ValueError naming the bad boxes, or "skip" them (reasons in
      `Prediction.rejected`).
    modal: run the modal head, when the network has one, for visible masks and hidden parts
      (same chunks, same mask selection and threshold); False skips that decoder pass.
    postprocess: "batched" runs the masks of all boxes of a call in one pass of batched tensor
      ops on the model's device with two host syncs (`batched_postprocess.py`); "roi" upsamples
      each mask only inside its region, box by box (`postprocess.py`); "auto" picks "batched"
      on CUDA and "roi" on a CPU, where it is measured faster. Both give the official masks.
    postprocess_budget_mib: memory bound of the batched pass: boxes are post-processed in
      groups whose working set stays within it (at least one box per group).
    order_head: score mask pairs with the network's order head when it has one (and the modal
      head runs); False skips it.
    """

    mask_threshold: float = 0.0
    chunk_size: int | Literal["auto"] | None = "auto"
    mask_selection: MaskSelection = "best_iou"
    invalid_boxes: Literal["raise", "skip"] = "raise"
    modal: bool = True
    postprocess: PostprocessPath = "auto"
    postprocess_budget_mib: int = 1024
    order_head: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.mask_threshold):
            raise ValueError(f"mask_threshold must be finite, got {self.mask_threshold}")
        chunk = self.chunk_size
        if chunk is not None and chunk != "auto" and (
            isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1
        ):
            raise ValueError(f"chunk_size must be 'auto' or an integer ≥ 1, got {chunk!r}")
        if self.mask_selection not in ("best_iou", "first", "single"):
            raise ValueError(f"unknown mask_selection {self.mask_selection!r}")
        if self.invalid_boxes not in ("raise", "skip"):
            raise ValueError(f"invalid_boxes must be 'raise' or 'skip': {self.invalid_boxes!r}")
        if self.postprocess not in ("auto", "batched", "roi"):
            raise ValueError(
                f"postprocess must be 'auto', 'batched' or 'roi', got {self.postprocess!r}")
        if self.postprocess_budget_mib < 1:
            raise ValueError("postprocess_budget_mib must be ≥ 1")

    def chunk_for(self, device: torch.device, boxes: int) -> int:
        """Boxes per decoder call for `boxes` boxes on `device`."""
        if isinstance(self.chunk_size, int):
            return self.chunk_size
        if device.type == "cpu":
            return CPU_CHUNK
        return max(1, min(boxes, MAX_CUDA_CHUNK))

    def postprocess_for(self, device: torch.device) -> Literal["batched", "roi"]:
        """The post-processing path run on `device`."""
        if self.postprocess != "auto":
            return self.postprocess
        return CPU_POSTPROCESS if device.type == "cpu" else "batched"


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
    pair_order: with the order head, {other mask's prompt index: s(this, other)} of the pairs it
      scored (antisymmetric: the other mask holds -s); empty without one.
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
    pair_order: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """What one `AmodalPredictor.predict` call produced.

    masks: one InstancePrediction per accepted prompt, in prompt order.
    rejected: {prompt index: reason} of the prompts that got no mask (see
      `sameo_core.geometry.sanitize_boxes`); empty with `invalid_boxes="raise"`.
    decoder_s: wall time of the `predict` call (everything but the encoder).
    heads: the decoders that ran: ("amodal",), or ("amodal", "modal") when the masks carry
      visible masks and hidden parts.
    timings: the stage times of this call and of the `set_image` before it (`StageTimes`).
    """

    masks: list[InstancePrediction]
    rejected: dict[int, str]
    decoder_s: float
    heads: tuple[Head, ...] = ("amodal",)
    timings: StageTimes | None = None

    @property
    def has_visible(self) -> bool:
        return "modal" in self.heads

    @property
    def pair_order(self) -> dict[tuple[int, int], float]:
        """The order head's scores as learned evidence for `occlusion_order` on `masks`:
        {(i, j): s} with i < j positions in `masks` (empty without an order head)."""
        return pair_evidence(self.masks)


def pair_evidence(masks: list[InstancePrediction]) -> dict[tuple[int, int], float]:
    """{(i, j): s(i, j)}, i < j positions in `masks`, of the order-head scores the masks carry
    (`InstancePrediction.pair_order`, keyed by prompt index); pairs with a mask not in the list
    are left out. The learned evidence of `occlusion_order` for these masks."""
    position = {m.index: k for k, m in enumerate(masks)}
    evidence = {}
    for i, mask in enumerate(masks):
        for other, score in mask.pair_order.items():
            j = position.get(other)
            if j is not None and i < j:
                evidence[(i, j)] = score
    return evidence


def _check_image(image: np.ndarray | torch.Tensor) -> None:
    """An RGB uint8 [H, W, 3] image: a numpy array, or a torch tensor (e.g. a JPEG decoded on
    the GPU, README "ROS 2 node"), within MAX_IMAGE_PIXELS."""
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8:
            raise TypeError(f"image must be uint8 RGB, got dtype {image.dtype}")
    elif not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a numpy array or a torch tensor, got {type(image).__name__}"
        )
    elif image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [H, W, 3] RGB, got shape {tuple(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {tuple(image.shape)}")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise ValueError(f"image of {image.shape[1]}x{image.shape[0]} pixels is larger than "
                         f"the {MAX_IMAGE_PIXELS} pixels allowed")  # fmt: skip


def _image_on(image: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [H, W, 3] on `device`: a host array through `copy_to_device` (no host sync), a
    tensor already there as it is, a tensor elsewhere copied without blocking."""
    if isinstance(image, torch.Tensor):
        return image.to(device, non_blocking=True)
    return copy_to_device(image, device)


def _cast_weights(model: Sameo, dtype: torch.dtype) -> Sameo:
    """A copy of `model` with its weights in `dtype`, cast once (the caller's model is left as
    it is). The tensors of positions stay float32: the prompt encoder's Fourier matrix (box
    coordinates are encoded in float32, `model/prompt_encoder.py`) and the pixel statistics."""
    model = copy.deepcopy(model)
    pe = model.prompt_encoder.pe_layer
    kept = (pe.positional_encoding_gaussian_matrix, model.pixel_mean, model.pixel_std)
    model.to(dtype)
    pe.positional_encoding_gaussian_matrix, model.pixel_mean, model.pixel_std = kept
    return model


class AmodalPredictor:
    """Runs the encoder once per image (`set_image`, or `set_images` for several cameras) and
    decodes boxes in batches (`predict`), with the amodal head and, when the network has one,
    the modal head.

    dtype: float32, or bfloat16/float16 — the weights are cast once here (on a copy of the
    model), positional encodings and box coordinates stay float32, masks and IoU are
    post-processed in float32.
    """

    def __init__(
        self, model: Sameo, device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32, config: PredictorConfig | None = None,
    ) -> None:
        self.device = torch.device(device)
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, not {dtype}")
        model = model.to(self.device).eval()
        self.model = model if dtype == torch.float32 else _cast_weights(model, dtype)
        self.dtype = dtype
        self.config = config or PredictorConfig()
        self._embeddings: torch.Tensor | None = None
        self._image_sizes: list[tuple[int, int]] = []
        self._encoder_clocks: list[StageClock] = []  # set_image calls not yet reported
        self.heads: tuple[Head, ...] = ("amodal",)
        if self.model.has_modal_head and self.config.modal:
            self.heads = ("amodal", "modal")
        self.scores_order = (self.model.has_order_head and self.config.order_head
                             and "modal" in self.heads)  # fmt: skip

    @property
    def has_modal_head(self) -> bool:
        """Whether the network has a modal head (visible masks need one)."""
        return self.model.has_modal_head

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(H, W) of the last image set, None before `set_image`."""
        return self._image_sizes[-1] if self._image_sizes else None

    @property
    def image_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of each image of the last `set_images` (one entry after `set_image`)."""
        return list(self._image_sizes)

    def set_image(self, image: np.ndarray | torch.Tensor) -> float:
        """Encode an RGB uint8 [H, W, 3] image (numpy, or a torch tensor on any device, e.g. a
        JPEG decoded on the GPU), replacing any previous one; returns the wall
        time of the call (seconds). On CUDA the call returns once the encoder is queued (no host
        sync): the encoder's device time comes with the next `Prediction.timings`."""
        return self.set_images([image])

    @torch.inference_mode()
    def set_images(self, images: list[np.ndarray | torch.Tensor]) -> float:
        """Encode several RGB uint8 images (e.g. one per camera, any sizes) in one batched
        encoder call, replacing any previous ones; `predict(..., image=k)` decodes against image
        k. Returns the wall time of the call (seconds), as `set_image`."""
        if isinstance(images, np.ndarray) or not isinstance(images, (list, tuple)):
            raise TypeError("images must be a list of [H, W, 3] uint8 arrays or tensors")
        if not 1 <= len(images) <= MAX_IMAGES:
            raise ValueError(f"set_images takes 1 to {MAX_IMAGES} images, got {len(images)}")
        for image in images:
            _check_image(image)
        clock = StageClock(self.device)
        self.reset_image()  # a failing encoder leaves no stale embedding behind
        inputs = []
        for image in images:
            pixels = _image_on(image, self.device).permute(2, 0, 1)[None]
            inputs.append(self.model.preprocess(pixels.float().div_(255.0)))
        batch = inputs[0] if len(inputs) == 1 else torch.cat(inputs)
        self._embeddings = self.model.image_encoder(batch)
        self._image_sizes = [(image.shape[0], image.shape[1]) for image in images]
        clock.mark("encoder")
        self._encoder_clocks.append(clock)
        return clock.span()

    def reset_image(self) -> None:
        self._embeddings, self._image_sizes = None, []

    def warmup(self, image_size: tuple[int, int] = (480, 640), boxes: int = 20) -> float:
        """Run one frame — `set_image` of an image of image_size=(H, W) and `predict` of
        `boxes` boxes — so that the first real frame does not pay for lazy start-up work
        (kernel choice, allocator growth, cached interpolation matrices). Returns its latency
        (seconds); the image is forgotten afterwards."""
        height, width = image_size
        if height < 1 or width < 1 or height * width > MAX_IMAGE_PIXELS:
            raise ValueError(f"warm-up image size must be positive and at most "
                             f"{MAX_IMAGE_PIXELS} pixels, got {image_size}")  # fmt: skip
        if not 1 <= boxes <= MAX_BOXES:
            raise ValueError(f"warm-up boxes must be 1 to {MAX_BOXES}, got {boxes}")
        ys, xs = np.mgrid[0:height, 0:width]
        image = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) % 256], axis=-1)
        # A grid of overlapping boxes of a quarter of the image each.
        rows = np.arange(boxes) / boxes
        corners = np.stack([rows * width * 0.75, (rows * 7 % 1) * height * 0.75], axis=1)
        prompts = np.concatenate([corners, corners + [width / 4, height / 4]], axis=1)
        start = time.perf_counter()
        try:
            self.set_image(image.astype(np.uint8))
            self.predict(prompts)
        finally:
            self.reset_image()
            self._encoder_clocks.clear()
        return time.perf_counter() - start

    def _image_index(self, image: int | None) -> int:
        count = len(self._image_sizes)
        if image is None:
            return count - 1
        if isinstance(image, bool) or not isinstance(image, (int, np.integer)) or not (
            -count <= image < count
        ):
            raise ValueError(f"image must be an index of the {count} images set, got {image!r}")
        return int(image) % count

    @torch.inference_mode()
    def predict(
        self, boxes: np.ndarray, scores: np.ndarray | None = None,
        points: np.ndarray | None = None, point_labels: np.ndarray | None = None,
        image: int | None = None,
    ) -> Prediction:
        """Amodal masks for xyxy pixel boxes [N, 4] of the current image.

        scores: optional detector scores [N] (ρ_front). points / point_labels: optional clicks
        per box, [N, P, 2] pixels and [N, P] labels (1 positive, 0 negative, -1 ignored), P ≤ 4.
        image: after `set_images`, the index of the image the boxes belong to (default: the
        last one). Invalid boxes (non-finite, zero/negative size, outside the image, non-finite
        score) raise a ValueError or are left out, per `config.invalid_boxes`; boxes reaching
        out of the image are clipped to it. An empty box list gives no masks.
        """
        if self._embeddings is None:
            raise RuntimeError("call set_image() before predict()")
        clock = StageClock(self.device)
        index = self._image_index(image)
        image_size = self._image_sizes[index]
        boxes = as_box_array(boxes)
        if len(boxes) > MAX_BOXES:
            raise ValueError(f"at most {MAX_BOXES} boxes per predict, got {len(boxes)}")
        scores = self._check_per_box(scores, len(boxes), "scores", (len(boxes),))
        points, point_labels = self._check_points(points, point_labels, len(boxes))
        clipped, rejected = sanitize_boxes(boxes, image_size, scores)
        if rejected and self.config.invalid_boxes == "raise":
            raise ValueError(f"invalid boxes (index: reason): {rejected}")
        keep = [i for i in range(len(boxes)) if i not in rejected]
        results: list[InstancePrediction] = []
        if keep:
            corners, labels = self._upload_prompts(keep, clipped, points, point_labels)
            clock.mark("prompt")
            embedding = self._embeddings[index : index + 1]
            run = self._predict_batched
            if self.config.postprocess_for(self.device) == "roi":
                run = self._predict_roi
            results = run(keep, clipped, scores, embedding, image_size, corners, labels, clock)
        else:
            clock.mark("prompt")
            for pending in self._encoder_clocks:
                pending.wait()
        timings = self._timings(clock)
        return Prediction(results, rejected, clock.span(), self.heads, timings)

    def _timings(self, clock: StageClock) -> StageTimes:
        """The stage times of this predict and of the set_image calls before it."""
        encoder = sum(pending.times().get("encoder", 0.0) for pending in self._encoder_clocks)
        self._encoder_clocks.clear()
        times = clock.times()
        return StageTimes(
            encoder_s=encoder, prompt_s=times.get("prompt", 0.0),
            decoder_s={head: times.get(f"decoder_{head}", 0.0) for head in self.heads},
            postprocess_s=times.get("postprocess", 0.0), copy_s=times.get("copy", 0.0),
        )  # fmt: skip

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

    def _upload_prompts(
        self, keep: list[int], boxes: np.ndarray, points: np.ndarray | None,
        labels: np.ndarray | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The official point prompts of the kept boxes (`Sameo.box_prompts`, built on the
        host) on the device in one copy: corners [1, n, P, 2] float32 and labels [1, n, P]."""

        def host(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.from_numpy(array[keep].astype(np.float32))

        corners, corner_labels = self.model.box_prompts(
            host(boxes)[None], None if points is None else host(points)[None],
            None if labels is None else host(labels)[None],
        )  # fmt: skip
        packed = torch.cat([corners, corner_labels[..., None].to(corners.dtype)], dim=-1)
        packed = copy_to_device(packed.numpy(), self.device)
        return packed[..., :2], packed[..., 2].to(torch.int64)

    def _decode(
        self, embedding: torch.Tensor, corners: torch.Tensor, labels: torch.Tensor,
        image_size: tuple[int, int], clock: StageClock,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head of `self.heads`: chosen logits [n, h, w] (float32) and their raw IoU [n] of
        the prompts corners [1, n, P, 2] / labels [1, n, P].

        The prompts are encoded once; each head decodes them in one batched call.
        """
        multimask = self.config.mask_selection != "single"
        best_iou = self.config.mask_selection == "best_iou"
        sparse = self.model.encode_prompts(corners, labels, image_size)
        clock.mark("prompt")
        chosen = []
        for head in self.heads:
            logits, iou = self.model.decode_sparse(embedding, sparse, multimask, head=head)
            clock.mark(f"decoder_{head}")
            chosen.append(choose_outputs(logits[0], iou[0], best_iou))
            clock.mark("postprocess")
        return chosen

    def _chunks(self, count: int) -> list[slice]:
        size = self.config.chunk_for(self.device, count)
        return [slice(start, start + size) for start in range(0, count, size)]

    def _predict_batched(
        self, keep: list[int], boxes: np.ndarray, scores: np.ndarray | None,
        embedding: torch.Tensor, image_size: tuple[int, int], corners: torch.Tensor,
        labels: torch.Tensor, clock: StageClock,
    ) -> list[InstancePrediction]:
        """Decoder calls in chunks, then one batched post-processing pass for all boxes."""
        decoded = [self._decode(embedding, corners[:, chunk], labels[:, chunk], image_size, clock)
                   for chunk in self._chunks(len(keep))]  # fmt: skip
        if len(decoded) == 1:
            logits = torch.stack([head[0] for head in decoded[0]])
            ious = torch.stack([head[1] for head in decoded[0]])
        else:
            logits = torch.stack([torch.cat([chunk[h][0] for chunk in decoded])
                                  for h in range(len(self.heads))])  # fmt: skip
            ious = torch.stack([torch.cat([chunk[h][1] for chunk in decoded])
                                for h in range(len(self.heads))])  # fmt: skip
        budget = self.config.postprocess_budget_mib * 2**20
        crops = batched_masks(logits, ious, image_size, self.config.mask_threshold, budget,
                              clock)  # fmt: skip
        table = crops.table
        boxes_of_masks = table[:, COLUMN["amodal_x0"] : COLUMN["amodal_y1"] + 1]
        order = self._pair_order(logits, boxes_of_masks, image_size, keep, clock)
        results = []
        for row, index in enumerate(keep):
            values = table[row]
            iou = float(values[COLUMN["iou"]])
            front = 1.0 if scores is None else float(scores[index])
            visible = {}
            if crops.visible is not None:
                area = int(values[COLUMN["amodal_area"]])
                visible_area = int(values[COLUMN["visible_area"]])
                visible = {
                    "visible": crops.visible[row], "hidden": crops.hidden[row],
                    "visible_iou": float(values[COLUMN["visible_iou"]]),
                    "visible_fraction": visible_area / area if area else float("nan"),
                    "visible_outside_amodal":
                        int(values[COLUMN["modal_area"]]) - visible_area,
                }  # fmt: skip
            results.append(InstancePrediction(
                index=index, amodal=crops.amodal[row], iou=iou, score=front * iou,
                prompt_box=boxes[index].astype(np.float32),
                box=values[COLUMN["amodal_x0"] : COLUMN["amodal_y1"] + 1].astype(np.float32),
                **visible, pair_order=order[row],
            ))
        clock.mark("postprocess", host=True)
        return results

    def _predict_roi(
        self, keep: list[int], boxes: np.ndarray, scores: np.ndarray | None,
        embedding: torch.Tensor, image_size: tuple[int, int], corners: torch.Tensor,
        labels: torch.Tensor, clock: StageClock,
    ) -> list[InstancePrediction]:
        """Decoder calls in chunks, each followed by the ROI-only upsampling box by box."""
        results, kept_logits = [], []
        for chunk in self._chunks(len(keep)):
            heads = self._decode(embedding, corners[:, chunk], labels[:, chunk], image_size,
                                 clock)  # fmt: skip
            if self.scores_order:
                kept_logits.append(torch.stack([head[0] for head in heads]))
            (logits, ious), modal = heads[0], heads[1] if len(heads) > 1 else None
            for row, index in enumerate(keep[chunk]):
                amodal = self._upsample(logits[row], image_size)
                iou = float(ious[row])
                front = 1.0 if scores is None else float(scores[index])
                visible = {} if modal is None else self._visible(
                    amodal, modal[0][row], modal[1][row], image_size)  # fmt: skip
                results.append(InstancePrediction(
                    index=index, amodal=amodal, iou=iou, score=front * iou,
                    prompt_box=boxes[index].astype(np.float32),
                    box=amodal.box().astype(np.float32), **visible,
                ))
            clock.mark("postprocess")
        clock.resume()
        if self.scores_order:
            order = self._pair_order(torch.cat(kept_logits, dim=1),
                                     np.stack([r.box for r in results]), image_size, keep, clock)
            results = [replace(r, pair_order=scores) for r, scores in zip(results, order)]
        return results

    def _pair_order(
        self, logits: torch.Tensor, boxes: np.ndarray, image_size: tuple[int, int],
        keep: list[int], clock: StageClock,
    ) -> list[dict[int, float]]:
        """Per mask, {other's prompt index: s(this, other)} of the order head (empty dicts
        without one): logits [K, n, h, w] chosen of both heads, amodal boxes [n, 4] of the
        masks in image pixels (host). Pairs: amodal boxes that overlap, at most MAX_ORDER_PAIRS
        (largest intersections first); one host sync for the scores."""
        out: list[dict[int, float]] = [{} for _ in keep]
        if not self.scores_order or len(keep) < 2:
            return out
        b = np.asarray(boxes, np.float64)
        pairs, inter = overlapping_box_pairs(b)
        if len(pairs) > MAX_ORDER_PAIRS:
            pairs = pairs[np.argsort(-inter, kind="stable")[:MAX_ORDER_PAIRS]]
        if not len(pairs):
            return out
        host = np.concatenate([pairs.reshape(-1), b.reshape(-1)]).astype(np.float32)
        packed = copy_to_device(host, logits.device)
        pairs_t = packed[: 2 * len(pairs)].view(-1, 2).to(torch.int64)
        boxes_t = packed[2 * len(pairs) :].view(-1, 4)
        scores = self.model.order_head(logits[0], logits[1], boxes_t, image_size, pairs_t)
        clock.mark("postprocess")
        values = copy_to_host(scores, clock)
        clock.resume()
        for (i, j), score in zip(pairs.tolist(), values.tolist()):
            out[i][keep[j]] = score
            out[j][keep[i]] = -score
        return out

    def _upsample(self, logits: torch.Tensor, image_size: tuple[int, int]) -> RoiMask:
        return RoiMask(*upsample_mask_roi(logits, image_size, self.config.mask_threshold))

    def _visible(
        self, amodal: RoiMask, logits: torch.Tensor, iou: torch.Tensor,
        image_size: tuple[int, int],
    ) -> dict:
        """The visible mask (modal ∩ amodal), hidden part and visible fraction of one box."""
        modal = self._upsample(logits, image_size)
        visible = modal.intersect(amodal)
        area = amodal.area
        return {
            "visible": visible, "hidden": amodal.subtract(visible), "visible_iou": float(iou),
            "visible_fraction": visible.area / area if area else float("nan"),
            "visible_outside_amodal": modal.area - visible.area,
        }


__all__ = [
    "AmodalPredictor", "InstancePrediction", "MAX_BOXES", "MAX_IMAGES", "MAX_IMAGE_PIXELS",
    "Prediction", "PredictorConfig",
]
