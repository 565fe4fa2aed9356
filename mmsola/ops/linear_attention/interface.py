"""Public entry point of the linear-attention op (backend dispatch).

Placeholder with the torch backend only; the Triton backend is being added.
"""
from typing import Optional, Tuple

import torch

from .naive import linear_attention_torch


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                     hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6,
                     backend: str = 'auto') -> torch.Tensor:
    """Linear attention on (B, H, N, d) tensors; see ``linear_attention_torch`` for the math."""
    return linear_attention_torch(q, k, v, hw=hw, eps=eps)
