"""Scaled dot-product attention with a switchable backend.

The product uses PyTorch's fused `scaled_dot_product_attention`. The official EfficientSAM code
materialises the softmax with plain matmuls; `naive_attention()` switches to that formulation so
that the benchmark can time the official inference path with our modules, and tests can check
that both agree.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F

_state = threading.local()


def _naive_enabled() -> bool:
    return getattr(_state, "naive", False)


@contextlib.contextmanager
def naive_attention() -> Iterator[None]:
    """Within this block (in this thread), attention is computed as softmax(QKᵀ·s)·V."""
    previous = _naive_enabled()
    _state.naive = True
    try:
        yield
    finally:
        _state.naive = previous


def dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention over [..., N, d] tensors with scale 1/sqrt(d)."""
    if _naive_enabled():
        weights = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
        return weights.softmax(dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v)
