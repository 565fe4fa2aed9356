"""Attention cores ('L', 'S', 'H') and the gated Mixer wrapper shared by all of them.

Every core maps (B, N, C) tokens of an (h, w) grid to (B, N, C) and carries its own LePE
(a 3x3 depthwise conv on v). The 2-D RoPE is computed for whatever grid arrives, so any input
resolution works without re-initialising anything. Its layout is MLLA's
(:mod:`mmsola.ops.rope`): the rotation spans the core's full width C, all its heads, as MLLA
does before the head split. (An 'H' core's halves are cores of C/2 channels each, so each
half's rotation spans its own C/2.)
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from mmsola.errors import ArgumentError
from mmsola.ops import apply_rope_2d, linear_attention
from .utils import depthwise_conv3x3, map_to_tokens, no_autograd, tokens_to_map


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, C) -> (B, heads, N, C / heads)."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def _add_heads(tokens: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """``tokens`` (B, N, C) + ``heads`` (B, heads, N, C / heads) merged -> (B, N, C).

    One pass: the sum is laid out like ``tokens`` (the first operand), so merging its heads
    back is a view, not a copy.
    """
    b, n, c = tokens.shape
    summed = tokens.reshape(b, n, heads.shape[1], heads.shape[3]).transpose(1, 2) + heads
    return summed.transpose(1, 2).reshape(b, n, c)


class LinearAttentionCore(nn.Module):
    """'L': linear attention with ELU+1 features, 2-D RoPE in the numerator, LePE.

    q, k = Linear(y) split, v = y; per head (``mmsola.ops.linear_attention``)::

        z   = 1 / (phi(q) . mean_n phi(k) + eps)
        out = (rope(phi(q)) @ (rope(phi(k))^T v / N)) * z  +  dwconv3x3(v)

    Args:
        embed_dims (int): channels C; head dim is C / num_heads.
        num_heads (int): number of heads.
        attn_backend (str): 'auto' | 'triton' | 'torch', passed to the op.
        eps (float): normaliser epsilon.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_backend: str = 'auto',
                 eps: float = 1e-6):
        super().__init__()
        self.num_heads = num_heads
        self.attn_backend = attn_backend
        self.eps = eps
        self.qk = nn.Linear(embed_dims, 2 * embed_dims)
        self.lepe = depthwise_conv3x3(embed_dims)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, dim=-1)
        q, k, v = (_split_heads(t, self.num_heads) for t in (q, k, x))
        out = linear_attention(q, k, v, hw=hw, eps=self.eps, backend=self.attn_backend)
        return _add_heads(map_to_tokens(self.lepe(tokens_to_map(x, hw))), out)


class SoftmaxAttentionCore(nn.Module):
    """'S': global softmax attention with 2-D RoPE on q and k, plus LePE.

    q, k, v = Linear(y) split; per head::

        out = softmax(rope(q) rope(k)^T / sqrt(d)) v  +  dwconv3x3(v)

    computed by ``F.scaled_dot_product_attention`` (Flash/cuDNN kernels on GPU). No windows.
    """

    def __init__(self, embed_dims: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.lepe = depthwise_conv3x3(embed_dims)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        lepe = map_to_tokens(self.lepe(tokens_to_map(v, hw)))
        q, k, v = (_split_heads(t, self.num_heads) for t in (q, k, v))
        q, k = apply_rope_2d(q, hw), apply_rope_2d(k, hw)
        out = F.scaled_dot_product_attention(q, k, v.to(q.dtype))
        return _add_heads(lepe, out)


class HybridAttentionCore(nn.Module):
    """'H': intra-block hybrid; the first C/2 channels (heads/2 heads) go through an 'L' core,
    the other C/2 channels (heads/2 heads) through an 'S' core; the halves are concatenated.

    The head dim stays C / heads. Used by the paper's hybridisation study. Each half's
    rotation spans that half's C/2 channels.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_backend: str = 'auto'):
        super().__init__()
        if num_heads < 2 or num_heads % 2:
            raise ArgumentError(f"an 'H' block splits its heads in half, so it needs an even "
                             f'number of heads, got num_heads={num_heads}')
        self.split = embed_dims // 2
        self.linear = LinearAttentionCore(self.split, num_heads // 2, attn_backend)
        self.softmax = SoftmaxAttentionCore(self.split, num_heads // 2)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x_lin, x_soft = x.split(self.split, dim=-1)
        return torch.cat([self.linear(x_lin, hw), self.softmax(x_soft, hw)], dim=-1)


def build_core(kind: str, embed_dims: int, num_heads: int,
               attn_backend: str = 'auto') -> nn.Module:
    """The attention core of block kind ``'L'``, ``'S'`` or ``'H'``."""
    if kind == 'L':
        return LinearAttentionCore(embed_dims, num_heads, attn_backend)
    if kind == 'S':
        return SoftmaxAttentionCore(embed_dims, num_heads)
    if kind == 'H':
        return HybridAttentionCore(embed_dims, num_heads, attn_backend)
    raise ArgumentError(f"unknown block kind {kind!r}; valid kinds are 'L', 'S', 'H'")


class AttentionMixer(nn.Module):
    """The gated wrapper, identical for every kind (kinds differ only in ``core``)::

        gate = SiLU(Linear(x))
        y    = SiLU(dwconv3x3(Linear(x)))
        out  = Linear(Core(y) * gate)

    Input and output: (B, N, C) tokens of an (h, w) grid.
    """

    def __init__(self, embed_dims: int, num_heads: int, kind: str = 'L',
                 attn_backend: str = 'auto'):
        super().__init__()
        self.kind = kind
        self.gate_proj = nn.Linear(embed_dims, embed_dims)
        self.in_proj = nn.Linear(embed_dims, embed_dims)
        self.dwconv = depthwise_conv3x3(embed_dims)
        self.core = build_core(kind, embed_dims, num_heads, attn_backend)
        self.out_proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        inplace = no_autograd()  # layers' fresh outputs may be overwritten (see utils)
        gate = F.silu(self.gate_proj(x), inplace=inplace)
        y = F.silu(self.dwconv(tokens_to_map(self.in_proj(x), hw)), inplace=inplace)
        y = self.core(map_to_tokens(y), hw)
        return self.out_proj(y.mul_(gate) if inplace else y * gate)

    def extra_repr(self) -> str:
        return f'kind={self.kind!r}'
