"""Mask decoder: two-way transformer over [IoU token, mask tokens, prompt tokens] and the image,
then a 4× upscaling and one hypernetwork MLP per mask token."""

from __future__ import annotations

import torch
from torch import nn

from .common import MLPBlock
from .transformer import TwoWayTransformer


def _upscaling_stage(in_dim: int, out_dim: int, normalize: bool) -> nn.Sequential:
    # GroupNorm(1, C) normalises over C, H and W jointly (EfficientSAM; SAM uses LayerNorm2d).
    norm = nn.GroupNorm(1, out_dim) if normalize else nn.Identity()
    return nn.Sequential(nn.ConvTranspose2d(in_dim, out_dim, 2, stride=2), norm, nn.GELU())


class MaskDecoder(nn.Module):
    def __init__(
        self, transformer: TwoWayTransformer, transformer_dim: int, upscale_dims: tuple[int, int],
        num_multimask_outputs: int, iou_head_depth: int, iou_head_hidden_dim: int,
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        mid_dim, out_dim = upscale_dims
        self.final_output_upscaling_layers = nn.ModuleList([
            _upscaling_stage(transformer_dim, mid_dim, normalize=True),
            _upscaling_stage(mid_dim, out_dim, normalize=False),
        ])
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLPBlock(transformer_dim, transformer_dim, out_dim, num_layers=2)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLPBlock(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth - 1
        )

    def forward(
        self, image_embeddings: torch.Tensor, image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor, multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode every query against the embedding of its own image.

        Arguments:
          image_embeddings: [B, C, g, g]
          image_pe: [1, C, g, g] dense positional encoding
          sparse_prompt_embeddings: [B, Q, P, C]
        Returns:
          mask logits [B*Q, M, 4g, 4g] and raw IoU predictions [B*Q, M], M = 3 when
          `multimask_output` (tokens 1..3), else 1 (token 0).
        """
        b, q = sparse_prompt_embeddings.shape[:2]
        prompts = sparse_prompt_embeddings.flatten(0, 1)
        # One image: its embedding is broadcast to all queries inside the transformer.
        src = image_embeddings.repeat_interleave(q, dim=0) if b > 1 else image_embeddings
        masks, iou = self.predict_all_tokens(src, image_pe, prompts)
        selected = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, selected], iou[:, selected]

    def predict_all_tokens(
        self, src: torch.Tensor, image_pe: torch.Tensor, prompts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """src [N or 1, C, g, g], prompts [N, P, C] → logits [N, 4, 4g, 4g], iou [N, 4]."""
        n, (c, h, w) = prompts.shape[0], src.shape[1:]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat([output_tokens.expand(n, -1, -1), prompts], dim=1)
        hs, image_tokens = self.transformer(src, image_pe, tokens)
        iou_token_out = hs[:, 0]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens]

        upscaled = image_tokens.transpose(1, 2).reshape(n, c, h, w)
        for stage in self.final_output_upscaling_layers:
            upscaled = stage(upscaled)
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        n, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(n, c, h * w)).reshape(n, -1, h, w)
        return masks, self.iou_prediction_head(iou_token_out)
