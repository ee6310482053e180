"""Builders: a SAMEO network of a registered size or of an explicit configuration."""

from __future__ import annotations

from pathlib import Path

from .checkpoint import load_weights, read_checkpoint_config
from .config import SameoConfig, get_config
from .image_encoder import ImageEncoderViT
from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder
from .sameo import Sameo
from .transformer import TwoWayTransformer


def _build(config: SameoConfig) -> Sameo:
    encoder = ImageEncoderViT(
        img_size=config.img_size, patch_size=config.patch_size, embed_dim=config.encoder_dim,
        depth=config.encoder_depth, num_heads=config.encoder_heads, mlp_ratio=config.mlp_ratio,
        out_dim=config.embed_dim, pretrain_grid=config.pretrain_grid,
    )
    prompt_encoder = PromptEncoder(config.embed_dim, config.grid_size, config.img_size)
    transformer = TwoWayTransformer(
        depth=config.decoder_depth, embedding_dim=config.embed_dim,
        num_heads=config.decoder_heads, mlp_dim=config.decoder_mlp_dim,
        downsample_rate=config.attention_downsample,
    )
    decoder = MaskDecoder(
        transformer, config.embed_dim, config.upscale_dims, config.num_multimask_outputs,
        config.iou_head_depth, config.iou_head_hidden_dim,
    )
    return Sameo(encoder, prompt_encoder, decoder, config)


def build_sameo(
    variant: str | None = None,
    checkpoint: str | Path | None = None,
    *,
    config: SameoConfig | None = None,
    base_checkpoint: str | Path | None = None,
) -> Sameo:
    """Build a SAMEO network in eval mode, optionally loading weights.

    Arguments:
      variant: a name of `SAMEO_CONFIGS` ("vitt", "vits", ...). When None, the size comes from
        `config`, else from the checkpoint's own metadata (our checkpoints carry it), else "vitt".
      checkpoint: an official EfficientSAM file, a SAMEO training checkpoint, a plain state dict
        or a .safetensors file (see `sameo_core.model.checkpoint`).
      base_checkpoint: weights applied first, for decoder-only SAMEO checkpoints.
    """
    if variant is not None and config is not None:
        raise ValueError("give either variant or config, not both")
    if variant is not None:
        config = get_config(variant)
    elif config is None and checkpoint is not None:
        config = read_checkpoint_config(checkpoint)
    model = _build(config or get_config("vitt"))
    if base_checkpoint is not None:
        load_weights(model, base_checkpoint)
    if checkpoint is not None:
        load_weights(model, checkpoint, partial_ok=base_checkpoint is not None)
    return model.eval()
