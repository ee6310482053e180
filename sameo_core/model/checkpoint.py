"""Reading and writing SAMEO / EfficientSAM weights.

Accepted files (always read with `torch.load(weights_only=True)` or safetensors, so no arbitrary
object is ever unpickled):
  * official EfficientSAM checkpoints: `{"model": state_dict}`;
  * our own checkpoints: `{"model": state_dict, "sameo": {"config": ..., "step": ...,
    "heads": [...]}, ...}`;
  * SAMEO training checkpoints: `{"decoder": mask_decoder_state}` and optionally
    `{"encoder": image_encoder_state}` and `{"modal_decoder": modal_decoder_state}`; a
    decoder-only file is applied over a base checkpoint;
  * a plain state dict, or a `.safetensors` file holding one.

The two heads (README, "The model and its checkpoints"): the amodal decoder has the official key
names `mask_decoder.*`; a modal (visible-mask) head is the same architecture under
`modal_decoder.*`. A file has a modal head exactly when it holds `modal_decoder.*` keys; our files
(format 2) also list their heads in `sameo.heads`, and a file whose list disagrees with its keys
is refused. A network is built with a modal head when the weights provide one (`compose_state`):
  * the checkpoint's own `modal_decoder.*` keys, or
  * a base checkpoint's decoder that the checkpoint replaces: a SAMEO decoder over an official
    EfficientSAM file keeps EfficientSAM's decoder, a modal box-prompt decoder, as the modal
    head — provided the checkpoint leaves the image and prompt encoders as in the base (absent
    or equal), since that decoder was trained on the base's embeddings.

The optional pairwise order head (`order_head.py`) is stored under `order_head.*` and listed as
"order" in `sameo.heads`; it needs a modal head. A file has it exactly when it holds those keys
(a list that disagrees with the keys is refused, as for the modal head); files without it,
official EfficientSAM files included, load and run exactly as before.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import atomic_write
from .config import SAMEO_CONFIGS, SameoConfig
from .order_head import ORDER_PREFIX

# 1: weights + config; 2: an optional modal head (`modal_decoder.*`) and `heads` in the metadata,
# and the optional order head (`order_head.*`, "order" in `heads`).
FORMAT_VERSION = 2
AMODAL_PREFIX, MODAL_PREFIX = "mask_decoder.", "modal_decoder."
# What the decoder of a base must leave untouched to stay a valid modal head over its embeddings.
_EMBEDDING_PREFIXES = ("image_encoder.", "prompt_encoder.")
# SAMEO training files name sub-modules; map them to our state-dict prefixes.
_PART_PREFIXES = {"encoder": "image_encoder.", "decoder": AMODAL_PREFIX,
                  "prompt_encoder": "prompt_encoder.", "modal_decoder": MODAL_PREFIX,
                  "order_head": ORDER_PREFIX}


class CheckpointError(ValueError):
    """A file is not a usable checkpoint for this model; the message says why."""


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "allowed global" in str(err):
            raise CheckpointError(
                f"{path}: refused to load: it holds objects other than tensors and plain "
                "containers (only weights_only files are read)"
            ) from err
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({err})") from err
    except (RuntimeError, EOFError, KeyError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({err})") from err


def _as_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(obj).__name__}")
    if isinstance(obj.get("model"), dict):
        state = obj["model"]
    elif any(isinstance(obj.get(part), dict) for part in _PART_PREFIXES):
        state = {
            prefix + key: value
            for part, prefix in _PART_PREFIXES.items()
            if isinstance(obj.get(part), dict)
            for key, value in obj[part].items()
        }
    else:
        state = obj
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not state or bad:
        raise CheckpointError(
            f"{path}: no state dict found (top-level keys {sorted(obj)[:8]}; non-tensor "
            f"entries {bad[:5]})"
        )
    return state


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (state dict in our key names, metadata dict; empty for foreign files)."""
    path = Path(path)
    obj = _load_file(path)
    meta = obj.get("sameo", {}) if isinstance(obj, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    state = _as_state_dict(obj, path)
    _check_heads(state, meta, path)
    return state, meta


def has_modal_head(state: dict[str, torch.Tensor]) -> bool:
    return any(key.startswith(MODAL_PREFIX) for key in state)


def has_order_head(state: dict[str, torch.Tensor]) -> bool:
    return any(key.startswith(ORDER_PREFIX) for key in state)


def _check_heads(state: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
    heads = meta.get("heads")
    if heads is not None:
        if not isinstance(heads, list) or not set(heads) <= {"amodal", "modal", "order"}:
            raise CheckpointError(
                f"{path}: metadata 'heads' must list 'amodal'/'modal'/'order': {heads!r}")
        for head, prefix, present in (("modal", MODAL_PREFIX, has_modal_head(state)),
                                      ("order", ORDER_PREFIX, has_order_head(state))):
            if (head in heads) != present:
                found = "has" if present else "has no"
                raise CheckpointError(
                    f"{path}: its metadata lists heads {heads} but it {found} {prefix}* weights")
    if has_order_head(state) and not has_modal_head(state) and any(
        k.startswith(AMODAL_PREFIX) for k in state
    ):
        raise CheckpointError(f"{path}: it holds {ORDER_PREFIX}* weights but no modal head "
                              f"({MODAL_PREFIX}*), whose masks the order head reads")


def _variant_of_width(width: int) -> str | None:
    for name in ("vitt", "vits"):
        if SAMEO_CONFIGS[name].encoder_dim == width:
            return name
    return None


def config_of(
    state: dict[str, torch.Tensor], meta: dict[str, Any], path: str | Path
) -> SameoConfig | None:
    """The configuration read weights were made for: their metadata, else inferred from the
    encoder width of an official-size file; None for a decoder-only file."""
    if "config" in meta:
        return SameoConfig.from_dict(meta["config"])
    pos_embed = state.get("image_encoder.pos_embed")
    if pos_embed is None:
        return None
    variant = _variant_of_width(int(pos_embed.shape[-1]))
    if variant is None:
        raise CheckpointError(
            f"{path}: encoder width {pos_embed.shape[-1]} matches no registered variant and "
            "the file carries no configuration; pass config= explicitly"
        )
    return SAMEO_CONFIGS[variant]


def read_checkpoint_config(path: str | Path) -> SameoConfig | None:
    """The configuration a checkpoint was made for (see `config_of`)."""
    return config_of(*read_checkpoint(path), path)


def _mismatched_shapes(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]
) -> list[str]:
    problems = [
        f"{key}: checkpoint {tuple(state[key].shape)} vs model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    pos = state.get("image_encoder.pos_embed")
    if problems and pos is not None and "image_encoder.pos_embed" in expected:
        ckpt_variant = _variant_of_width(int(pos.shape[-1])) or f"width {pos.shape[-1]}"
        model_width = int(expected["image_encoder.pos_embed"].shape[-1])
        model_variant = _variant_of_width(model_width) or f"width {model_width}"
        if ckpt_variant != model_variant:
            problems.insert(0, f"wrong variant: checkpoint is {ckpt_variant}, model is "
                               f"{model_variant}")
    return problems


def state_problems(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], partial_ok: bool
) -> list[str]:
    """Every mis-shaped, unexpected and (unless `partial_ok`) missing key of `state` for a
    model whose state dict is `expected`, in words."""
    problems = _mismatched_shapes(expected, state)
    unexpected = sorted(set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if unexpected:
        hint = ""
        if all(k.startswith(MODAL_PREFIX) for k in unexpected):
            hint = " (a modal head the network was built without)"
        if all(k.startswith(ORDER_PREFIX) for k in unexpected):
            hint = " (an order head the network was built without)"
        problems.append(f"unexpected keys ({len(unexpected)}){hint}: {unexpected[:10]}")
    if missing and not partial_ok:
        hint = ""
        if all(not k.startswith(AMODAL_PREFIX) for k in missing):
            hint = " (decoder-only file: pass a base checkpoint)"
        if all(k.startswith(MODAL_PREFIX) for k in missing):
            hint = " (the network has a modal head, the file has none)"
        if all(k.startswith(ORDER_PREFIX) for k in missing):
            hint = " (the network has an order head, the file has none)"
        problems.append(f"missing keys ({len(missing)}){hint}: {missing[:10]}")
    return problems


def load_weights(model: nn.Module, path: str | Path, partial_ok: bool = False) -> None:
    """Load a checkpoint into `model` strictly; errors name every missing, unexpected or
    mis-shaped key. With `partial_ok`, keys absent from the file keep their current values
    (a decoder-only SAMEO file over a base EfficientSAM checkpoint)."""
    state, _ = read_checkpoint(path)
    problems = state_problems(model.state_dict(), state, partial_ok)
    if problems:
        raise CheckpointError(f"{path} does not fit the model:\n  " + "\n  ".join(problems))
    model.load_state_dict(state, strict=not partial_ok)


def _same_tensors(
    state: dict[str, torch.Tensor], base: dict[str, torch.Tensor], prefixes: tuple[str, ...]
) -> bool:
    """Whether every key of `state` under `prefixes` equals the base's value."""
    for key, value in state.items():
        if key.startswith(prefixes):
            other = base.get(key)
            if other is None or other.shape != value.shape or not torch.equal(
                value.to(other.dtype), other
            ):
                return False
    return True


def compose_state(
    state: dict[str, torch.Tensor] | None, base: dict[str, torch.Tensor] | None
) -> tuple[dict[str, torch.Tensor], str]:
    """The weights of a checkpoint applied over a base, and where the modal head comes from.

    Returns (state, source) with source "checkpoint", "base" (the base's modal head, or the
    base's decoder that the checkpoint replaced, renamed to `modal_decoder.*`) or, when there is
    no modal head, the reason why not.
    """
    state = dict(state or {})
    if base is None:
        if has_modal_head(state):
            return state, "checkpoint"
        return state, "the weights hold no modal_decoder"
    if has_modal_head(state):
        return {**base, **state}, "checkpoint"
    merged = dict(base)
    if not has_modal_head(base):
        base_decoder = {MODAL_PREFIX + k[len(AMODAL_PREFIX):]: v for k, v in base.items()
                        if k.startswith(AMODAL_PREFIX)}  # fmt: skip
        replaces_decoder = any(k.startswith(AMODAL_PREFIX) for k in state)
        if not (base_decoder and replaces_decoder):
            merged.update(state)
            return merged, "neither file holds a modal_decoder, and the checkpoint does not " \
                "replace the base's decoder"
        merged.update(base_decoder)
    if not _same_tensors(state, base, _EMBEDDING_PREFIXES):
        merged = {k: v for k, v in merged.items() if not k.startswith(MODAL_PREFIX)}
        merged.update(state)
        return merged, "the checkpoint replaces the base's image or prompt encoder, on whose " \
            "embeddings the base's decoder was trained"
    merged.update(state)
    return merged, "base"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save `obj` to `path` atomically and durably (see `sameo_core.files.atomic_write`)."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def checkpoint_metadata(
    config: SameoConfig, step: int | None = None, variant: str | None = None,
    modal_head: bool = False, order_head: bool = False, **extra: Any,
) -> dict[str, Any]:
    heads = ["amodal", "modal"] if modal_head else ["amodal"]
    if order_head:
        heads.append("order")
    return {"format_version": FORMAT_VERSION, "config": config.to_dict(), "variant": variant,
            "step": step, "heads": heads, **extra}


def save_checkpoint(
    path: str | Path, model: nn.Module, *, step: int | None = None, variant: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write `{"model": state_dict, "sameo": metadata, **extra}` atomically."""
    meta = checkpoint_metadata(model.config, step=step, variant=variant,
                               modal_head=model.has_modal_head,
                               order_head=getattr(model, "has_order_head", False))  # fmt: skip
    atomic_save({"model": model.state_dict(), "sameo": meta, **(extra or {})}, path)
