"""EfficientSAM's plain ViT image encoder (global attention, no windows) with a conv neck."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import dot_product_attention
from .common import LayerNorm2d


class PatchEmbed(nn.Module):
    """Non-overlapping patches → [B, D, H/p, W/p]."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention over all tokens."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, N, head_dim]
        x = dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; LayerNorm eps 1e-6 as in the official encoder."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ImageEncoderViT(nn.Module):
    """[B, 3, S, S] normalised images (S = img_size) → [B, out_dim, S/p, S/p] embeddings."""

    def __init__(
        self, img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int,
        mlp_ratio: float, out_dim: int, pretrain_grid: int,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        self.pretrain_grid = pretrain_grid
        # Parameter registered first so that state_dict order matches the official files.
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + pretrain_grid**2, embed_dim))
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_dim, kernel_size=1, bias=False),
            LayerNorm2d(out_dim),
            nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_dim),
        )

    def absolute_pos_embed(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """Position table [1, h, w, D]: cls slot dropped, bicubic-resized from pretraining."""
        side = self.pretrain_grid
        table = self.pos_embed[:, 1:].reshape(1, side, side, -1)
        if (side, side) == (grid_h, grid_w):
            return table
        # Resized in float32 (also for low-precision weights), given in the weights' dtype.
        table = F.interpolate(table.permute(0, 3, 1, 2).float(), size=(grid_h, grid_w),
                              mode="bicubic", align_corners=False)  # fmt: skip
        return table.permute(0, 2, 3, 1).to(self.pos_embed.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(
                f"encoder input must be {self.img_size}x{self.img_size}, got {tuple(x.shape[-2:])}"
            )
        # Inputs come normalised in float32; low-precision weights take them in their dtype.
        x = self.patch_embed(x.to(self.pos_embed.dtype)).permute(0, 2, 3, 1)  # [B, h, w, D]
        b, h, w, d = x.shape
        x = (x + self.absolute_pos_embed(h, w)).reshape(b, h * w, d)
        for block in self.blocks:
            x = block(x)
        x = x.reshape(b, h, w, d).permute(0, 3, 1, 2)
        return self.neck(x)
