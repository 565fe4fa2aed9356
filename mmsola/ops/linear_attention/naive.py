"""PyTorch implementation of the linear-attention op: runs anywhere.

* :func:`linear_attention_torch` is the reference: plain tensor code, differentiable by
  autograd (it is what the tests compare against, in float64).
* :func:`linear_attention_torch_fwd` / :func:`linear_attention_torch_bwd` compute the same
  function with a hand-written backward, in the form the ``mmsola::linear_attention_*`` custom
  ops use for the torch backend: the forward keeps only q, k, v and the small (d x d) state
  for the backward (the reference under autograd keeps about five (B, H, N, d) fp32 tensors).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ..rope import apply_rope_2d, check_rope_args, rope_2d_angles, rotate, rotate_transposed


def linear_attention_torch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           hw: Optional[Tuple[int, int]] = None,
                           eps: float = 1e-6) -> torch.Tensor:
    """Linear attention with ELU+1 features, 2-D RoPE in the numerator and a mean-k normaliser.

    Args:
        q, k, v: (B, H, N, d) tensors.
        hw: (h, w) token grid with h * w == N for the 2-D RoPE; None applies no RoPE.
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
        q_feat, k_feat = apply_rope_2d(q_feat, hw), apply_rope_2d(k_feat, hw)
    kv = (k_feat.transpose(-2, -1) @ v) / num_tokens
    return ((q_feat @ kv) * z).to(out_dtype)


# ---------------------------------------------------------------------------------------------
# forward / hand-written backward (the torch backend of the custom op)
# ---------------------------------------------------------------------------------------------

def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for float64 inputs, else float32 (also the dtype of the saved state)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _phi(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1


def _phi_grad(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.exp(x.clamp(max=0)))


def _rotation(hw, head_dim, x):
    if hw is None:
        return None
    check_rope_args(x.shape[-2], head_dim, hw)
    angles = rope_2d_angles(hw, head_dim, device=x.device, dtype=x.dtype)
    return angles.cos(), angles.sin()


def _rotate(x, rot):
    """rope(x) with precomputed (cos, sin) of shape (N, d/2); identity without RoPE."""
    return x if rot is None else rotate(x, *rot)


def _rotate_t(g, rot):
    """rope^T(g), used for gradients; identity without RoPE."""
    return g if rot is None else rotate_transposed(g, *rot)


def linear_attention_torch_fwd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward of :func:`linear_attention_torch` without autograd: ``(o, KV, s)``.

    ``KV = rope(phi(k))^T v`` (B, H, d, d) and ``s = sum_n phi(k)`` (B, H, d) are sums over
    tokens in the compute dtype (float32; float64 for float64 inputs), saved for the backward.
    """
    compute = compute_dtype(q)
    num_tokens, head_dim = q.shape[-2:]
    qf, kf = _phi(q.to(compute)), _phi(k.to(compute))
    rot = _rotation(hw, head_dim, qf)
    ks = kf.sum(dim=-2)
    kv = _rotate(kf, rot).transpose(-2, -1) @ v.to(compute)
    z = 1.0 / ((qf @ ks.unsqueeze(-1)) / num_tokens + eps)
    o = (_rotate(qf, rot) @ kv) * (z / num_tokens)
    return o.to(q.dtype), kv, ks


def linear_attention_torch_bwd(do: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                               v: torch.Tensor, kv: torch.Tensor, ks: torch.Tensor,
                               hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-written backward: ``(dq, dk, dv)`` in the input dtype.

    With ``qr, kr = rope(qf), rope(kf)``, ``u = qr KV / N``, ``z = 1 / (qf . s / N + eps)``,
    ``o = u z``::

        dz  = dO . u                du  = dO z
        dqr = du KV^T / N           dKV = qr^T du / N
        g   = -z^2 dz / N           dqf = rope^T(dqr) + g s,    ds = sum_n g qf
        dkr = v dKV^T               dv  = kr dKV                dkf = rope^T(dkr) + ds
        dq  = dqf phi'(q)           dk  = dkf phi'(k)           phi'(x) = 1 if x > 0 else e^x
    """
    compute = compute_dtype(q)
    num_tokens, head_dim = q.shape[-2:]
    q_, k_, v_, do_ = (x.to(compute) for x in (q, k, v, do))
    kv, ks = kv.to(compute), ks.to(compute)
    qf = _phi(q_)
    rot = _rotation(hw, head_dim, qf)
    qr = _rotate(qf, rot)
    z = 1.0 / ((qf @ ks.unsqueeze(-1)) / num_tokens + eps)
    u = (qr @ kv) / num_tokens
    dz = (do_ * u).sum(dim=-1, keepdim=True)
    du = do_ * z
    del u
    dkv = (qr.transpose(-2, -1) @ du) / num_tokens
    g = -z * z * dz / num_tokens
    dq = (_rotate_t((du @ kv.transpose(-2, -1)) / num_tokens, rot) + g * ks.unsqueeze(-2))
    dq = dq * _phi_grad(q_)
    ds = (g * qf).sum(dim=-2)
    del qf, qr, du
    kr = _rotate(_phi(k_), rot)
    dv = kr @ dkv
    dk = (_rotate_t(v_ @ dkv.transpose(-2, -1), rot) + ds.unsqueeze(-2)) * _phi_grad(k_)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)
