"""The training-time forward pass of SAMEO (kept out of the inference code).

``SameoTrainer`` is the module that DistributedDataParallel wraps: one forward from images (or
cached image embeddings) and one box per instance to mask logits and predicted IoUs of each
trained head (`sameo_core.training.heads`). A frozen image encoder runs without autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sameo_core.model import Sameo
from sameo_core.model.sameo import Head
from sameo_core.training.heads import HeadOutputs, check_heads


def set_trainable(
    model: Sameo, image_encoder: bool, prompt_encoder: bool,
    heads: Sequence[Head] = ("amodal",),
) -> list[nn.Parameter]:
    """Freeze the parts that are not trained: the decoders of `heads` are trained (by default
    the amodal mask decoder only, the paper's recipe), the encoders as asked.

    Returns the trainable parameters (what the optimizer gets).
    """
    heads = check_heads(heads)
    parts = [(model.image_encoder, image_encoder), (model.prompt_encoder, prompt_encoder),
             (model.mask_decoder, "amodal" in heads)]  # fmt: skip
    if model.modal_decoder is not None:
        parts.append((model.modal_decoder, "modal" in heads))
    elif "modal" in heads:
        raise ValueError("training the modal head needs a network with one")
    for module, trainable in parts:
        module.requires_grad_(trainable)
    return [p for p in model.parameters() if p.requires_grad]


class SameoTrainer(nn.Module):
    def __init__(
        self, model: Sameo, multimask: bool = True, heads: Sequence[Head] = ("amodal",)
    ) -> None:
        super().__init__()
        self.model = model
        self.multimask = multimask
        self.heads = check_heads(heads)

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
    ) -> HeadOutputs:
        """Prompted instances → per trained head (logits [N, K, L, L], iou [N, K]), K = 3
        (multimask) or 1. The prompts are encoded once for all heads.

        Args:
            images: [B, 3, S, S] float in [0, 1]; unused when ``embeddings`` is given.
            image_index: [N] image of each instance.
            boxes: [N, 4] xyxy prompt boxes in pixels of the S x S input.
            embeddings: optional [B, C, g, g] precomputed (cached) image embeddings.
        """
        if embeddings is None:
            embeddings = self.embed(images)
        size = self.model.config.img_size
        embeddings = embeddings[image_index]
        sparse = self.model.encode_prompts(*self.model.box_prompts(boxes[:, None]), (size, size))
        outputs: HeadOutputs = {}
        for head in self.heads:
            logits, iou = self.model.decode_sparse(embeddings, sparse, self.multimask, head=head)
            outputs[head] = (logits[:, 0], iou[:, 0])
        return outputs
