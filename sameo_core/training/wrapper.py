"""The training-time forward pass of SAMEO (kept out of the inference code).

``SameoTrainer`` is the module that DistributedDataParallel wraps: one forward from images (or
cached image embeddings) and one box per instance to mask logits and predicted IoUs. A frozen
image encoder runs without autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from sameo_core.model import Sameo


def set_trainable(model: Sameo, image_encoder: bool, prompt_encoder: bool) -> list[nn.Parameter]:
    """Freeze the parts that are not trained; the mask decoder is always trained.

    Returns the trainable parameters (what the optimizer gets).
    """
    for module, trainable in (
        (model.image_encoder, image_encoder),
        (model.prompt_encoder, prompt_encoder),
        (model.mask_decoder, True),
    ):
        module.requires_grad_(trainable)
    return [p for p in model.parameters() if p.requires_grad]


class SameoTrainer(nn.Module):
    def __init__(self, model: Sameo, multimask: bool = True) -> None:
        super().__init__()
        self.model = model
        self.multimask = multimask

    @property
    def encoder_trainable(self) -> bool:
        return any(p.requires_grad for p in self.model.image_encoder.parameters())

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] in [0, 1] → [B, C, g, g]; no autograd through a frozen encoder."""
        if self.encoder_trainable:
            return self.model.image_embeddings(images)
        with torch.no_grad():
            return self.model.image_embeddings(images)

    def forward(
        self,
        images: torch.Tensor,
        image_index: torch.Tensor,
        boxes: torch.Tensor,
        embeddings: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompted instances → (logits [N, K, L, L], iou [N, K]), K = 3 (multimask) or 1.

        Args:
            images: [B, 3, S, S] float in [0, 1]; unused when ``embeddings`` is given.
            image_index: [N] image of each instance.
            boxes: [N, 4] xyxy prompt boxes in pixels of the S x S input.
            embeddings: optional [B, C, g, g] precomputed (cached) image embeddings.
        """
        if embeddings is None:
            embeddings = self.embed(images)
        size = self.model.config.img_size
        logits, iou = self.model.predict_masks(
            embeddings[image_index], boxes[:, None], image_size=(size, size),
            multimask=self.multimask,
        )
        return logits[:, 0], iou[:, 0]
