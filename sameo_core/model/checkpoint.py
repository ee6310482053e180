"""Reading and writing SAMEO / EfficientSAM weights.

Accepted files (always read with `torch.load(weights_only=True)` or safetensors, so no arbitrary
object is ever unpickled):
  * official EfficientSAM checkpoints: `{"model": state_dict}`;
  * our own checkpoints: `{"model": state_dict, "sameo": {"config": ..., "step": ...}, ...}`;
  * SAMEO training checkpoints: `{"decoder": mask_decoder_state}` and optionally
    `{"encoder": image_encoder_state}`; a decoder-only file is applied over a base checkpoint;
  * a plain state dict, or a `.safetensors` file holding one.
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

FORMAT_VERSION = 1
# SAMEO training files name sub-modules; map them to our state-dict prefixes.
_PART_PREFIXES = {"encoder": "image_encoder.", "decoder": "mask_decoder.",
                  "prompt_encoder": "prompt_encoder."}


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
    return _as_state_dict(obj, path), meta if isinstance(meta, dict) else {}


def _variant_of_width(width: int) -> str | None:
    for name in ("vitt", "vits"):
        if SAMEO_CONFIGS[name].encoder_dim == width:
            return name
    return None


def read_checkpoint_config(path: str | Path) -> SameoConfig | None:
    """The configuration a checkpoint was made for: its metadata, else inferred from the
    encoder width of an official-size file; None for a decoder-only file."""
    state, meta = read_checkpoint(path)
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


def _describe_mismatch(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    expected = model.state_dict()
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


def load_weights(model: nn.Module, path: str | Path, partial_ok: bool = False) -> None:
    """Load a checkpoint into `model` strictly; errors name every missing, unexpected or
    mis-shaped key. With `partial_ok`, keys absent from the file keep their current values
    (a decoder-only SAMEO file over a base EfficientSAM checkpoint)."""
    state, _ = read_checkpoint(path)
    expected = model.state_dict()
    problems = _describe_mismatch(model, state)
    unexpected = sorted(set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {unexpected[:10]}")
    if missing and not partial_ok:
        hint = " (decoder-only file: pass a base checkpoint)" if all(
            not k.startswith("mask_decoder.") for k in missing) else ""
        problems.append(f"missing keys ({len(missing)}){hint}: {missing[:10]}")
    if problems:
        raise CheckpointError(f"{path} does not fit the model:\n  " + "\n  ".join(problems))
    model.load_state_dict(state, strict=not partial_ok)


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save `obj` to `path` atomically and durably (see `sameo_core.files.atomic_write`)."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def checkpoint_metadata(
    config: SameoConfig, step: int | None = None, variant: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "config": config.to_dict(), "variant": variant,
            "step": step, **extra}


def save_checkpoint(
    path: str | Path, model: nn.Module, *, step: int | None = None, variant: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write `{"model": state_dict, "sameo": metadata, **extra}` atomically."""
    meta = checkpoint_metadata(model.config, step=step, variant=variant)
    atomic_save({"model": model.state_dict(), "sameo": meta, **(extra or {})}, path)
