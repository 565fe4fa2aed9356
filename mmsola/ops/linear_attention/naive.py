"""The reference implementation of the linear-attention op: plain tensor code, differentiable
by autograd, in float64 for float64 inputs (what the tests and the other implementations are
checked against).

The torch backend of the op (the same function with a hand-written backward, in cache-sized
token blocks on CPU) is :mod:`.torch_backend`; the Triton backend is :mod:`.fused`.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ..rope import apply_rope_2d


def linear_attention_torch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           hw: Optional[Tuple[int, int]] = None,
                           eps: float = 1e-6) -> torch.Tensor:
    """Linear attention with ELU+1 features, 2-D RoPE in the numerator and a mean-k normaliser.

    Args:
        q, k, v: (B, H, N, d) tensors.
        hw: (h, w) token grid with h * w == N for the 2-D RoPE (the rotation spans all H
            heads: :mod:`mmsola.ops.rope`); None applies no RoPE.
        eps: added to the normaliser's denominator.

    Returns:
        (B, H, N, d) tensor in the input dtype::

            phi = elu + 1
            z   = 1 / (phi(q) . mean_n phi(k) + eps)                      # (B, H, N, 1)
            out = (rope(phi(q)) @ (rope(phi(k))^T v / N)) * z

    Half-precision inputs are computed in float32; float64 stays float64.
    """
    out_dtype = q.dtype
    compute = torch.float64 if q.dtype == torch.float64 else torch.float32
    q, k, v = q.to(compute), k.to(compute), v.to(compute)
    num_tokens = q.shape[-2]
    q_feat, k_feat = F.elu(q) + 1, F.elu(k) + 1
    z = 1.0 / (q_feat @ k_feat.mean(dim=-2).unsqueeze(-1) + eps)
    if hw is not None:
        q_feat = apply_rope_2d(q_feat, hw)
        k_feat = apply_rope_2d(k_feat, hw)
    kv = (k_feat.transpose(-2, -1) @ v) / num_tokens
    return ((q_feat @ kv) * z).to(out_dtype)
