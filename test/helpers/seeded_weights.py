"""The deterministic weight rule used to make the reference outputs in `test/data/`.

Rule (as stated by the reference generator's docstring): one CPU `torch.Generator` seeded with
`seed`; keys visited in key-list order; for each key exactly one standard-normal draw
`z = randn(shape)`; value = offset + std * z with (offset, std) from the first matching rule:
  1. key ends with `positional_encoding_gaussian_matrix`   → (0, 1.0)
  2. key ends with `pos_embed`                              → (0, 0.5)
  3. key ends with `_token.weight`, `_tokens.weight`, `_points.weight`, `_embeddings.weight`
                                                            → (0, 1.0)
  4. any other tensor with ≥ 2 dims                         → (0, 1/sqrt(prod(shape[1:])))
  5. 1-D key ending in `.weight`                            → (1, 0.1)
  6. 1-D key ending in `.bias`                              → (0, 0.05)
  7. anything else                                          → (0, 0.02)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1] / "data"
EMBEDDING_SUFFIXES = ("_token.weight", "_tokens.weight", "_points.weight", "_embeddings.weight")


def offset_and_std(key: str, shape: list[int]) -> tuple[float, float]:
    if key.endswith("positional_encoding_gaussian_matrix"):
        return 0.0, 1.0
    if key.endswith("pos_embed"):
        return 0.0, 0.5
    if key.endswith(EMBEDDING_SUFFIXES):
        return 0.0, 1.0
    if len(shape) >= 2:
        return 0.0, 1.0 / math.sqrt(max(math.prod(shape[1:]), 1))
    if len(shape) == 1 and key.endswith(".weight"):
        return 1.0, 0.1
    if len(shape) == 1 and key.endswith(".bias"):
        return 0.0, 0.05
    return 0.0, 0.02


def key_list(variant: str) -> list[tuple[str, list[int]]]:
    path = DATA / f"efficientsam_{variant}_keys.json"
    if not path.is_file():
        raise FileNotFoundError(f"reference key list missing: {path}")
    return [(str(k), [int(s) for s in shape]) for k, shape in json.loads(path.read_text())]


def seeded_state_dict(keys: list[tuple[str, list[int]]], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    state = {}
    for key, shape in keys:
        z = torch.randn(shape, generator=generator, dtype=torch.float32)
        offset, std = offset_and_std(key, shape)
        state[key] = (z * std + offset).contiguous() if offset else (z * std).contiguous()
    return state
