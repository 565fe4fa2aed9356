"""The torch backend of the linear-attention op: runs anywhere, the CPU production path.

:func:`linear_attention_torch_fwd` / :func:`linear_attention_torch_bwd` compute
:func:`.naive.linear_attention_torch` with a hand-written backward, in the form the
``mmsola::linear_attention_*`` custom ops use for ``backend='torch'``: the forward keeps only
q, k, v and the small (d x d) state for the backward (the reference under autograd keeps about
five (B, H, N, d) fp32 tensors). On CPU both passes walk the tokens in blocks sized to stay in
cache (:func:`token_blocks`; "chunk" is the Triton kernels' split of the token axis across
programs, :func:`.fused.token_chunks`).
"""
from typing import List, Optional, Tuple

import torch

from ..rope import check_rope_args, rope_2d_cos_sin

# CPU passes work on token blocks whose (B, H, block, d) temporaries are about this large
BLOCK_BYTES = 1 << 19
BLOCK_MIN_TOKENS = 64


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for float64 inputs, else float32 (also the dtype of the saved state)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _phi(x: torch.Tensor, compute: torch.dtype) -> torch.Tensor:
    """``phi(x) = elu(x) + 1 = exp(min(x, 0)) + max(x, 0)`` as a new contiguous tensor in
    ``compute`` dtype, for an ``x`` of any strides and float dtype.

    Cheaper than ``F.elu(x) + 1`` (whose expm1 kernel is slow on CPU and whose output follows
    a strided input's layout, so later matmuls copy it).
    """
    out = torch.empty(x.shape, dtype=compute, device=x.device)
    out.copy_(x)  # the only read of a strided x; the rest works on this (cached) copy
    neg = torch.clamp(out, max=0).exp_()
    return out.clamp_(min=0).add_(neg)


def _rotation(hw, x: torch.Tensor, dtype):
    """(cos, sin) of the RoPE angles for a (B, H, N, d) ``x``: (H, N, d/2) each, (N, d/2)
    for one head (cached in eager mode); None without RoPE."""
    if hw is None:
        return None
    heads, num_tokens, head_dim = x.shape[-3:]
    check_rope_args(num_tokens, head_dim, hw)
    return rope_2d_cos_sin(hw, head_dim, heads, device=x.device, dtype=dtype)


def _rotate(x: torch.Tensor, rot, transposed: bool = False) -> torch.Tensor:
    """rope(x) (rope^T(x) if ``transposed``, used for gradients) into a new contiguous tensor,
    as :func:`mmsola.ops.rope.rotate` computes it, without its temporaries and concatenation;
    ``x`` itself without RoPE. Not differentiable (``out=``): for the hand-written passes."""
    if rot is None:
        return x
    cos, sin = rot
    half = x.shape[-1] // 2
    sign = -1. if transposed else 1.
    x1, x2 = x[..., :half], x[..., half:]
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    torch.mul(x1, cos, out=out[..., :half]).addcmul_(x2, sin, value=-sign)
    torch.mul(x2, cos, out=out[..., half:]).addcmul_(x1, sin, value=sign)
    return out


def token_blocks(x: torch.Tensor, compute: torch.dtype) -> List[slice]:
    """Token ranges the CPU passes work on, one after the other, so that one (B, H, block, d)
    temporary stays about ``BLOCK_BYTES`` and the ~20 elementwise passes over it run in cache
    rather than memory. One range on other devices (kernel launches cost more than traffic
    there) or when N fits.
    """
    b, h, n, d = x.shape
    per_token = b * h * d * torch.finfo(compute).bits // 8
    block = max(BLOCK_MIN_TOKENS, BLOCK_BYTES // max(per_token, 1))
    if x.device.type != 'cpu' or block >= n:
        return [slice(0, n)]
    return [slice(start, min(start + block, n)) for start in range(0, n, block)]


def _rows(rot, sl: slice):
    """The RoPE tables of the tokens in ``sl`` (the token axis is dim -2)."""
    return None if rot is None else (rot[0][..., sl, :], rot[1][..., sl, :])


def _assemble(parts: List[torch.Tensor], slices: List[slice], shape, dtype) -> torch.Tensor:
    """The per-block results as one (B, H, N, d) tensor (no copy for a single block)."""
    if len(parts) == 1:
        return parts[0].to(dtype)
    out = parts[0].new_empty(shape, dtype=dtype)
    for sl, part in zip(slices, parts):
        out[:, :, sl] = part
    return out


def linear_attention_torch_fwd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward of :func:`linear_attention_torch` without autograd: ``(o, KV, s)``.

    ``KV = rope(phi(k))^T v`` (B, H, d, d) and ``s = sum_n phi(k)`` (B, H, d) are sums over
    tokens in the compute dtype (float32; float64 for float64 inputs), saved for the backward.
    Two passes over token blocks (:func:`token_blocks`): the sums, then the outputs.
    """
    compute = compute_dtype(q)
    num_tokens = q.shape[-2]
    rot = _rotation(hw, q, compute)
    slices = token_blocks(q, compute)
    kv = ks = None
    for sl in slices:
        kf = _phi(k[:, :, sl], compute)
        ks_part = kf.sum(dim=-2)
        kv_part = _rotate(kf, _rows(rot, sl)).transpose(-2, -1) @ v[:, :, sl].to(compute)
        kv, ks = (kv_part, ks_part) if kv is None else (kv.add_(kv_part), ks.add_(ks_part))
    outs = []
    for sl in slices:
        qf = _phi(q[:, :, sl], compute)
        z = 1.0 / ((qf @ ks.unsqueeze(-1)) / num_tokens + eps)
        outs.append((_rotate(qf, _rows(rot, sl)) @ kv).mul_(z / num_tokens))
    return _assemble(outs, slices, q.shape, q.dtype), kv, ks


def linear_attention_torch_bwd(do: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                               v: torch.Tensor, kv: torch.Tensor, ks: torch.Tensor,
                               hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-written backward: ``(dq, dk, dv)`` in the input dtype.

    With ``qr, kr = rope(qf), rope(kf)``, ``z = 1 / (qf . s / N + eps)``, ``P = dO KV^T``
    (so that ``u = qr KV / N``, ``o = u z`` give ``dO . u = qr . P / N``)::

        dz  = qr . P / N            g   = -z^2 dz / N           ds  = qf^T g
        dqr = P z / N               dKV = (qr z / N)^T dO
        dqf = rope^T(dqr) + g s     dkr = v dKV^T               dkf = rope^T(dkr) + ds
        dv  = kr dKV                dq  = dqf phi'(q)           dk  = dkf phi'(k)
        phi'(x) = 1 if x > 0 else e^x  =  min(phi(x), 1)

    Two passes over token blocks: dq and the sums dKV, ds; then dk and dv.
    """
    compute = compute_dtype(q)
    num_tokens = q.shape[-2]
    kv, ks = kv.to(compute), ks.to(compute)
    rot = _rotation(hw, q, compute)
    slices = token_blocks(q, compute)
    dkv = ds = None
    dqs = []
    for sl in slices:
        rot_sl = _rows(rot, sl)
        do_ = do[:, :, sl].to(compute).contiguous()  # read by two matmuls
        qf = _phi(q[:, :, sl], compute)
        z = 1.0 / ((qf @ ks.unsqueeze(-1)) / num_tokens + eps)
        qr = _rotate(qf, rot_sl)
        p = do_ @ kv.transpose(-2, -1)
        dz = (p * qr).sum(dim=-1, keepdim=True) / num_tokens
        g = -z * z * dz / num_tokens
        ds_part = (qf.transpose(-2, -1) @ g).squeeze(-1)
        qr_z = qr.mul_(z / num_tokens) if rot is not None else qf * (z / num_tokens)
        dkv_part = qr_z.transpose(-2, -1) @ do_
        del qr, qr_z, do_
        dkv, ds = (dkv_part, ds_part) if dkv is None else (dkv.add_(dkv_part), ds.add_(ds_part))
        dq = _rotate(p.mul_(z / num_tokens), rot_sl, transposed=True)
        dqs.append(dq.addcmul_(g, ks.unsqueeze(-2)).mul_(qf.clamp_(max=1)))
        del p, qf
    dks, dvs = [], []
    for sl in slices:
        rot_sl = _rows(rot, sl)
        kf = _phi(k[:, :, sl], compute)
        dvs.append(_rotate(kf, rot_sl) @ dkv)
        dk = _rotate(v[:, :, sl].to(compute) @ dkv.transpose(-2, -1), rot_sl, transposed=True)
        dks.append(dk.add_(ds.unsqueeze(-2)).mul_(kf.clamp_(max=1)))
    return (_assemble(dqs, slices, q.shape, q.dtype), _assemble(dks, slices, k.shape, k.dtype),
            _assemble(dvs, slices, v.shape, v.dtype))
