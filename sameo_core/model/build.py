"""Builders: a SAMEO network of a registered size or of an explicit configuration."""

from __future__ import annotations

from pathlib import Path

from .checkpoint import (
    MODAL_PREFIX,
    CheckpointError,
    compose_state,
    config_of,
    has_order_head,
    read_checkpoint,
    state_problems,
)
from .config import SameoConfig, get_config
from .image_encoder import ImageEncoderViT
from .mask_decoder import MaskDecoder
from .order_head import ORDER_PREFIX, OrderHead
from .prompt_encoder import PromptEncoder
from .sameo import Sameo
from .transformer import TwoWayTransformer


def build_mask_decoder(config: SameoConfig) -> MaskDecoder:
    """One mask decoder (the amodal and the modal head have this same architecture)."""
    transformer = TwoWayTransformer(
        depth=config.decoder_depth, embedding_dim=config.embed_dim,
        num_heads=config.decoder_heads, mlp_dim=config.decoder_mlp_dim,
        downsample_rate=config.attention_downsample,
    )
    return MaskDecoder(
        transformer, config.embed_dim, config.upscale_dims, config.num_multimask_outputs,
        config.iou_head_depth, config.iou_head_hidden_dim,
    )


def _build(config: SameoConfig, modal_head: bool = False, order_head: bool = False) -> Sameo:
    encoder = ImageEncoderViT(
        img_size=config.img_size, patch_size=config.patch_size, embed_dim=config.encoder_dim,
        depth=config.encoder_depth, num_heads=config.encoder_heads, mlp_ratio=config.mlp_ratio,
        out_dim=config.embed_dim, pretrain_grid=config.pretrain_grid,
    )
    prompt_encoder = PromptEncoder(config.embed_dim, config.grid_size, config.img_size)
    modal = build_mask_decoder(config) if modal_head else None
    order = OrderHead() if order_head else None
    return Sameo(encoder, prompt_encoder, build_mask_decoder(config), config, modal, order)


def build_sameo(
    variant: str | None = None,
    checkpoint: str | Path | None = None,
    *,
    config: SameoConfig | None = None,
    base_checkpoint: str | Path | None = None,
    modal_head: bool | None = None,
    order_head: bool | None = None,
) -> Sameo:
    """Build a SAMEO network in eval mode, optionally loading weights.

    Arguments:
      variant: a name of `SAMEO_CONFIGS` ("vitt", "vits", ...). When None, the size comes from
        `config`, else from the checkpoint's own metadata (our checkpoints carry it), else from
        the base checkpoint's, else "vitt".
      checkpoint: an official EfficientSAM file, a SAMEO training checkpoint, a plain state dict
        or a .safetensors file (see `sameo_core.model.checkpoint`).
      base_checkpoint: weights applied first, for decoder-only SAMEO checkpoints. The base's
        decoder that such a checkpoint replaces is kept as the modal head (EfficientSAM's own
        decoder is a modal box-prompt decoder), unless the checkpoint also replaces the encoders.
      modal_head: None builds the modal head when the weights provide one; True requires it
        (CheckpointError saying why there is none; without any weights, a randomly initialised
        one as the rest of the network); False leaves it out.
      order_head: the same for the optional pairwise order head (`order_head.*` weights; it
        needs the modal head, and is left out with it).
    Every file is loaded strictly: errors name each missing, unexpected and mis-shaped key.
    """
    if variant is not None and config is not None:
        raise ValueError("give either variant or config, not both")
    main = read_checkpoint(checkpoint) if checkpoint is not None else None
    base = read_checkpoint(base_checkpoint) if base_checkpoint is not None else None
    if variant is not None:
        config = get_config(variant)
    if config is None and main is not None:
        config = config_of(*main, checkpoint)
    if config is None and base is not None:
        config = config_of(*base, base_checkpoint)
    config = config or get_config("vitt")
    if order_head and modal_head is False:
        raise ValueError("an order head needs the modal head: order_head=True with "
                         "modal_head=False")  # fmt: skip
    if main is None and base is None:
        return _build(config, bool(modal_head or order_head), bool(order_head)).eval()
    state, source = compose_state(main[0] if main else None, base[0] if base else None)
    if modal_head and source not in ("checkpoint", "base"):
        raise CheckpointError(f"no modal head: {source}")
    with_modal = source in ("checkpoint", "base") and modal_head is not False
    if order_head and not has_order_head(state):
        raise CheckpointError("no order head: the weights hold no order_head.* keys")
    with_order = with_modal and has_order_head(state) and order_head is not False
    dropped = tuple(prefix for prefix, keep in ((MODAL_PREFIX, with_modal),
                                                (ORDER_PREFIX, with_order)) if not keep)

    def kept(weights: dict) -> dict:
        return {k: v for k, v in weights.items() if not k.startswith(dropped)} if dropped \
            else weights

    state = kept(state)
    model = _build(config, with_modal, with_order)
    expected = model.state_dict()
    problems = []
    if base is not None:
        problems += [f"{base_checkpoint}: {p}"
                     for p in state_problems(expected, kept(base[0]), True)]
    if main is not None:
        problems += [f"{checkpoint}: {p}"
                     for p in state_problems(expected, kept(main[0]), base is not None)]
    if base is not None:  # together the two files must give every weight
        problems += [f"{base_checkpoint} + {checkpoint}: {p}"
                     for p in state_problems(expected, state, False) if p.startswith("missing")]
    if problems:
        files = " over ".join(str(p) for p in (checkpoint, base_checkpoint) if p is not None)
        raise CheckpointError(f"{files} does not fit the model:\n  " + "\n  ".join(problems))
    model.load_state_dict(state, strict=True)
    return model.eval()
