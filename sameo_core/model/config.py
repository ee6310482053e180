"""Model sizes: a frozen configuration dataclass and the registry of named variants."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class SameoConfig:
    """Every dimension of a SAMEO / EfficientSAM network.

    The official sizes ("vitt", "vits") keep EfficientSAM's fixed hyper-parameters
    (yformer/EfficientSAM `build_efficient_sam`): 1024 px input, patch 16, 12 blocks, a 256-wide
    prompt/decoder, 2 two-way layers with 8 heads and MLP 2048, upscaling 64 → 32 channels,
    3 multimask outputs, a 3-layer IoU head and 6 prompt points per query.
    Smaller configurations exist for tests and CPU-scale training.
    """

    img_size: int = 1024
    patch_size: int = 16
    encoder_dim: int = 192
    encoder_depth: int = 12
    encoder_heads: int = 3
    mlp_ratio: float = 4.0
    pretrain_grid: int = 14  # pos_embed is [1, 1 + 14*14, D]: sized for 224 px pretraining
    embed_dim: int = 256  # neck output = prompt embedding = decoder transformer width
    decoder_depth: int = 2
    decoder_heads: int = 8
    decoder_mlp_dim: int = 2048
    attention_downsample: int = 2  # cross-attention internal width = embed_dim / 2
    upscale_dims: tuple[int, int] = (64, 32)
    num_multimask_outputs: int = 3
    iou_head_hidden_dim: int = 256
    iou_head_depth: int = 3
    max_points: int = 6  # prompt points per query after padding/truncation

    def __post_init__(self) -> None:
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of {self.patch_size}")
        if self.encoder_dim % self.encoder_heads:
            raise ValueError("encoder_dim must be divisible by encoder_heads")
        if self.embed_dim % 2:
            raise ValueError("embed_dim must be even (sin/cos positional encoding)")
        if len(self.upscale_dims) != 2:
            raise ValueError("upscale_dims must have two entries")

    @property
    def grid_size(self) -> int:
        """Side of the image-embedding grid (64 for the official sizes)."""
        return self.img_size // self.patch_size

    @property
    def low_res_size(self) -> int:
        """Side of the decoder's mask logits (256 for the official sizes)."""
        return self.grid_size * 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SameoConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SameoConfig fields: {unknown}")
        values = dict(values)
        if "upscale_dims" in values:
            values["upscale_dims"] = tuple(values["upscale_dims"])
        return cls(**values)


SAMEO_CONFIGS: dict[str, SameoConfig] = {
    # EfficientSAM-Ti / EfficientSAM-S (SAMEO fine-tunes the decoder of either).
    "vitt": SameoConfig(encoder_dim=192, encoder_heads=3),
    "vits": SameoConfig(encoder_dim=384, encoder_heads=6),
    # A very small network with every part of the architecture, for fast unit tests.
    "test": SameoConfig(
        img_size=64, patch_size=8, encoder_dim=32, encoder_depth=2, encoder_heads=2,
        pretrain_grid=4, embed_dim=32, decoder_heads=4, decoder_mlp_dim=64,
        upscale_dims=(16, 8), iou_head_hidden_dim=32,
    ),
}


def get_config(variant: str) -> SameoConfig:
    try:
        return SAMEO_CONFIGS[variant]
    except KeyError:
        raise ValueError(
            f"unknown SAMEO variant {variant!r}; known: {sorted(SAMEO_CONFIGS)}"
        ) from None
