"""Prompt encoder: random-Fourier positional encoding of points plus a learned embedding per label.

Point labels follow EfficientSAM: 1 = positive click, 2 = box top-left, 3 = box bottom-right,
-1 = padding. Label 0 (negative click) gets no learned embedding, only its positional encoding,
exactly as the official code (yformer/EfficientSAM `PromptEncoder._embed_points`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

LABEL_PADDING = -1
LABEL_NEGATIVE = 0
LABEL_POSITIVE = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3


class PositionEmbeddingRandom(nn.Module):
    """sin/cos of coordinates in [-1, 1] projected by a fixed Gaussian matrix [2, dim/2]."""

    def __init__(self, num_pos_feats: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """coords [..., 2] in [0, 1] → [..., 2 * num_pos_feats], in the matrix's dtype.

        Low-precision inference keeps the matrix float32 (`AmodalPredictor`): the sin/cos of
        2π·(coordinates @ matrix) reach arguments of tens of radians, where bfloat16's 8-bit
        mantissa would move a box corner by several pixels.
        """
        matrix = self.positional_encoding_gaussian_matrix
        coords = (2 * coords.to(matrix.dtype) - 1) @ matrix
        coords = 2 * math.pi * coords
        return torch.cat([coords.sin(), coords.cos()], dim=-1)

    def dense(self, size: int) -> torch.Tensor:
        """Encoding of every cell centre of a size×size grid → [C, size, size]."""
        matrix = self.positional_encoding_gaussian_matrix
        centres = (torch.arange(size, device=matrix.device, dtype=matrix.dtype) + 0.5) / size
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        return self.encode(torch.stack([x, y], dim=-1)).permute(2, 0, 1)


class PromptEncoder(nn.Module):
    """[N, P, 2] points in encoder-input pixels + [N, P] labels → [N, P, embed_dim]."""

    def __init__(self, embed_dim: int, grid_size: int, input_size: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.grid_size = grid_size
        self.input_size = input_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.invalid_points = nn.Embedding(1, embed_dim)
        self.point_embeddings = nn.Embedding(1, embed_dim)
        self.bbox_top_left_embeddings = nn.Embedding(1, embed_dim)
        self.bbox_bottom_right_embeddings = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image-embedding grid → [1, C, g, g], computed in the
        positional matrix's precision and given in the weights' dtype (the decoder's)."""
        dense = self.pe_layer.dense(self.grid_size).unsqueeze(0)
        return dense.to(self.point_embeddings.weight.dtype)

    def forward(self, points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Points and labels → embeddings in the weights' dtype; the positions are encoded in
        the positional matrix's precision (float32 also in low-precision inference)."""
        # +0.5 moves to the pixel centre; padding points (-1, -1) keep their encoding (not zeroed).
        embedding = self.pe_layer.encode((points + 0.5) / self.input_size)
        labels = labels[..., None]
        learned = (
            (labels == LABEL_PADDING, self.invalid_points),
            (labels == LABEL_POSITIVE, self.point_embeddings),
            (labels == LABEL_BOX_TOP_LEFT, self.bbox_top_left_embeddings),
            (labels == LABEL_BOX_BOTTOM_RIGHT, self.bbox_bottom_right_embeddings),
        )
        for selected, table in learned:
            embedding = embedding + table.weight * selected
        return embedding.to(self.point_embeddings.weight.dtype)
