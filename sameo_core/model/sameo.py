"""The SAMEO network: EfficientSAM's encoder, prompt encoder and mask decoder, and its
preprocessing and prompt conventions (yformer/EfficientSAM `efficient_sam.py`).

Beside the amodal mask decoder (`mask_decoder`, the official key names) a network may carry a
second decoder of the same architecture, the modal head (`modal_decoder`): it turns the same box
prompts on the same image embedding into *visible* masks. EfficientSAM's own decoder is such a
modal box-prompt decoder, and SAMEO's amodal decoder is a fine-tuned copy of it, so both heads
share the encoder and the prompt encoder (README, "The model and its checkpoints").

A network with a modal head may also carry the optional pairwise order head (`order_head`,
`order_head.py`): a small net over both heads' low-resolution outputs of two objects that scores
which one is in front, trained on top of the frozen network.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .config import SameoConfig
from .image_encoder import ImageEncoderViT
from .mask_decoder import MaskDecoder
from .order_head import OrderHead
from .prompt_encoder import (
    LABEL_BOX_BOTTOM_RIGHT,
    LABEL_BOX_TOP_LEFT,
    LABEL_PADDING,
    PromptEncoder,
)

# ImageNet statistics, applied after the resize to the encoder's square input.
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)

Head = Literal["amodal", "modal"]
HEADS: tuple[Head, ...] = ("amodal", "modal")


class Sameo(nn.Module):
    """Boxes (modal or amodal) and optional clicks → amodal mask logits and predicted IoU, and,
    with a modal head, visible mask logits and their predicted IoU."""

    def __init__(
        self, image_encoder: ImageEncoderViT, prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder, config: SameoConfig,
        modal_decoder: MaskDecoder | None = None, order_head: OrderHead | None = None,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        # None is a plain attribute, not a sub-module: a network without a modal head has
        # exactly the official state-dict keys.
        self.modal_decoder: MaskDecoder | None = modal_decoder
        if order_head is not None and modal_decoder is None:
            raise ValueError("an order head reads the modal head's masks: it needs a modal head")
        self.order_head: OrderHead | None = order_head  # None: no `order_head.*` keys
        self.config = config
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1), False)

    @property
    def has_modal_head(self) -> bool:
        """Whether the network has a modal (visible-mask) decoder."""
        return self.modal_decoder is not None

    @property
    def has_order_head(self) -> bool:
        """Whether the network has the optional pairwise order head."""
        return self.order_head is not None

    def decoder(self, head: Head = "amodal") -> MaskDecoder:
        """The mask decoder of a head: "amodal" (`mask_decoder`) or "modal" (`modal_decoder`)."""
        if head == "amodal":
            return self.mask_decoder
        if head != "modal":
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if self.modal_decoder is None:
            raise ValueError("this network has no modal head (no modal_decoder weights)")
        return self.modal_decoder

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1] → normalised [B, 3, S, S].

        As the official code: a plain bilinear stretch to the square input (aspect ratio not
        kept, no padding, no antialiasing), then normalisation. (The official code skips the
        resize for square inputs of the right size; resizing them is the identity, and one code
        path keeps exported graphs shape-independent.)
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W], got {tuple(images.shape)}")
        size = self.config.img_size
        images = F.interpolate(images, (size, size), mode="bilinear", align_corners=False)
        return (images - self.pixel_mean) / self.pixel_std

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1], any H and W → [B, C, g, g] (official: [B, 256, 64, 64])."""
        return self.image_encoder(self.preprocess(images))

    def encode_prompts(
        self, points: torch.Tensor, labels: torch.Tensor,
        image_size: tuple[int, int] | torch.Tensor,
    ) -> torch.Tensor:
        """points [B, Q, P, 2] (x, y) in pixels of the image_size=(H, W) input, labels [B, Q, P]
        → sparse embeddings [B, Q, max_points, C]. image_size may be a tensor (ONNX export)."""
        max_points = self.config.max_points
        if points.shape[2] > max_points:
            raise ValueError(f"at most {max_points} prompt points per query (a box counts 2)")
        height, width = image_size
        scale = self.config.img_size
        # Independent x/y scaling (matches the stretch); negative coordinates become -1.
        x = torch.where(points[..., 0] >= 0, points[..., 0] * scale / width, -1.0)
        y = torch.where(points[..., 1] >= 0, points[..., 1] * scale / height, -1.0)
        rescaled = torch.stack([x, y], dim=-1)
        missing = max_points - points.shape[2]
        rescaled = F.pad(rescaled, (0, 0, 0, missing), value=-1.0)
        labels = F.pad(labels, (0, missing), value=LABEL_PADDING)
        b, q = points.shape[:2]
        sparse = self.prompt_encoder(rescaled.flatten(0, 1), labels.flatten(0, 1))
        return sparse.reshape(b, q, max_points, -1)

    def decode_sparse(
        self, embeddings: torch.Tensor, sparse: torch.Tensor, multimask: bool = True,
        output_size: tuple[int, int] | None = None, head: Head = "amodal",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded prompts [B, Q, max_points, C] (`encode_prompts`) → one head's (logits, iou).

        The prompt encoding does not depend on the head: decode it once per head to get both
        the amodal and the visible masks of the same prompts.
        """
        b, q = sparse.shape[:2]
        logits, iou = self.decoder(head)(
            embeddings, self.prompt_encoder.get_dense_pe(), sparse, multimask
        )
        if output_size is not None:
            logits = F.interpolate(logits, output_size, mode="bicubic", align_corners=False)
        return logits.reshape(b, q, *logits.shape[1:]), iou.reshape(b, q, -1)

    def decode(
        self, embeddings: torch.Tensor, points: torch.Tensor, labels: torch.Tensor,
        image_size: tuple[int, int], multimask: bool = True,
        output_size: tuple[int, int] | None = None, head: Head = "amodal",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The official `predict_masks` on raw point prompts.

        Returns logits [B, Q, M, 4g, 4g] (or bicubic-upsampled to `output_size`) and raw IoU
        predictions [B, Q, M], with M = 3 if `multimask` else 1, of the amodal head or, with
        `head="modal"`, of the modal head.
        """
        sparse = self.encode_prompts(points, labels, image_size)
        return self.decode_sparse(embeddings, sparse, multimask, output_size, head)

    @staticmethod
    def box_prompts(
        boxes: torch.Tensor, points: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes [B, Q, 4] xyxy (plus optional clicks [B, Q, P, 2] with labels [B, Q, P]) → the
        official point prompts: corners [B, Q, 2 + P, 2] and labels [B, Q, 2 + P]."""
        if boxes.ndim != 3 or boxes.shape[-1] != 4:
            raise ValueError(f"boxes must be [B, Q, 4], got {tuple(boxes.shape)}")
        b, q = boxes.shape[:2]
        corners = boxes.reshape(b, q, 2, 2)
        corner_labels = torch.tensor(
            [LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], device=boxes.device
        ).expand(b, q, 2)
        if points is not None:
            if point_labels is None or point_labels.shape != points.shape[:3]:
                raise ValueError("point_labels must be given with points, shaped [B, Q, P]")
            corners = torch.cat([corners, points.to(corners.dtype)], dim=2)
            corner_labels = torch.cat([corner_labels, point_labels.to(corner_labels)], dim=2)
        return corners, corner_labels

    def predict_masks(
        self, embeddings: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int],
        multimask: bool = True, output_size: tuple[int, int] | None = None,
        points: torch.Tensor | None = None, point_labels: torch.Tensor | None = None,
        head: Head = "amodal",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Box prompts (plus optional clicks) → (logits, iou) of the amodal or the modal head.

        Arguments:
          embeddings: [B, C, g, g] from `image_embeddings`.
          boxes: [B, Q, 4] xyxy in pixels of the image_size=(H, W) input.
          points, point_labels: optional clicks [B, Q, P, 2] with labels [B, Q, P]
            (1 positive, 0 negative, -1 ignored), P ≤ 4.
          head: "amodal" (the SAMEO decoder) or "modal" (visible masks; needs a modal head).
        Returns:
          logits [B, Q, M, 4g, 4g] (upsampled to `output_size` if given), iou [B, Q, M] raw.
        """
        corners, corner_labels = self.box_prompts(boxes, points, point_labels)
        return self.decode(
            embeddings, corners, corner_labels, image_size, multimask, output_size, head
        )

    def forward(
        self, images: torch.Tensor, points: torch.Tensor, labels: torch.Tensor,
        scale_to_original_image_size: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The official `EfficientSam.forward`: always three (multimask) outputs."""
        image_size = (images.shape[-2], images.shape[-1])
        output_size = image_size if scale_to_original_image_size else None
        return self.decode(
            self.image_embeddings(images), points, labels, image_size, True, output_size
        )
