"""2-D rotary position embedding over a token grid (shared by the linear and softmax cores).

The layout is MLLA's (the only one), so its published weights compute what MLLA computes
(``docs/en/advanced_guides/models.md``). Channel pairs are "rotate half" inside each head: a
head of dim ``d`` (a multiple of 4) has ``d/2`` pairs ``(x[p], x[p + d/2])``. The rotation
spans the full width ``C = heads * d`` of a (B, heads, N, d) tensor, as if it were applied
before the head split:
pair ``p`` of head ``h`` has the global index ``P = h * d/2 + p`` (``0 .. C/2 - 1``); pairs
``P < C/4`` turn by ``row * theta[P]``, the others by ``col * theta[P - C/4]``, with
``theta[j] = base ** (-j / (C/4))``, where token ``n`` sits at ``row = n // w, col = n % w``
of the ``(h, w)`` grid. So each head sees one axis (a head may straddle the two when ``heads``
is odd) and its own band of frequencies. (MLLA pairs adjacent channels ``(2P, 2P + 1)``;
converting its ``qk`` weights permutes their output rows within each head:
:mod:`mmsola.convert.mlla`.)

The angles are computed for whatever grid arrives, so any input resolution works without
re-initialising.
"""
from collections import OrderedDict
from typing import Tuple

import torch

from .eager import is_plain_eager

ROPE_BASE = 10000.0
# (h, w, head_dim, heads, device, dtype) -> (cos, sin); eager mode only (rope_2d_cos_sin)
_COS_SIN_CACHE: 'OrderedDict[tuple, Tuple[torch.Tensor, torch.Tensor]]' = OrderedDict()
COS_SIN_CACHE_SIZE = 16


def check_rope_args(num_tokens: int, head_dim: int, hw: Tuple[int, int]) -> None:
    """Raise ValueError if ``hw`` does not describe ``num_tokens`` or ``head_dim % 4 != 0``."""
    if len(hw) != 2 or hw[0] * hw[1] != num_tokens:
        raise ValueError(f'hw={tuple(hw)} must be a (height, width) grid with height * width '
                         f'== N = {num_tokens} tokens')
    if head_dim % 4 != 0:
        raise ValueError(f'2-D RoPE needs a head dim divisible by 4, got {head_dim}; '
                         'choose widths and heads so that width / heads is a multiple of 4')


def rope_pair_table(head_dim: int, num_heads: int = 1,
                    device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(is_row, theta)`` of every channel pair, each (num_heads, head_dim // 2): whether
    pair ``p`` of head ``h`` turns with the row (else the column), and its frequency
    (float64). The rotation spans all ``num_heads`` heads (module docstring)."""
    half = head_dim // 2
    quarter = num_heads * head_dim // 4
    pair = torch.arange(num_heads * half, device=device,
                        dtype=torch.float64).view(num_heads, half)  # global index P
    is_row = pair < quarter
    theta = ROPE_BASE ** (-torch.where(is_row, pair, pair - quarter) / quarter)
    return is_row, theta


def rope_2d_angles(hw: Tuple[int, int], head_dim: int, num_heads: int = 1, device=None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Rotation angles for an (h, w) grid: (num_heads, h * w, head_dim // 2), or
    (h * w, head_dim // 2) for one head."""
    h, w = hw
    is_row, theta = rope_pair_table(head_dim, num_heads, device=device)
    rows = torch.arange(h, device=device, dtype=torch.float64).repeat_interleave(w)
    cols = torch.arange(w, device=device, dtype=torch.float64).repeat(h)
    pos = torch.where(is_row[:, None, :], rows[None, :, None], cols[None, :, None])
    angles = pos * theta[:, None, :]  # (heads, N, d/2)
    return (angles[0] if num_heads == 1 else angles).to(dtype)


def _cacheable(hw) -> bool:
    """True in plain eager execution (:func:`mmsola.ops.eager.is_plain_eager`) with ``hw``
    plain ints (never symbolic sizes), so a cached tensor can neither leak into a trace nor be
    keyed on a value that changes."""
    return is_plain_eager() and all(type(v) is int for v in hw)


def rope_2d_cos_sin(hw: Tuple[int, int], head_dim: int, num_heads: int = 1, device=None,
                    dtype: torch.dtype = torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of :func:`rope_2d_angles`, each of its shape.

    In eager mode the pair is cached per (grid, head dim, heads, device,
    dtype), the last ``COS_SIN_CACHE_SIZE`` of them, so the blocks of a stage (and later calls
    at the same resolution) do not recompute it; traced, compiled or exported code computes it
    in the graph. The cached tensors are never inference tensors (they are made outside
    ``torch.inference_mode``), so they also serve later training steps.
    """
    if not _cacheable(hw):
        angles = rope_2d_angles(hw, head_dim, num_heads, device=device, dtype=dtype)
        return angles.cos(), angles.sin()
    device = torch.device(device) if device is not None else torch.device('cpu')
    key = (hw[0], hw[1], head_dim, num_heads, device, dtype)
    pair = _COS_SIN_CACHE.get(key)
    if pair is None:
        with torch.inference_mode(False), torch.no_grad():
            angles = rope_2d_angles(hw, head_dim, num_heads, device=device, dtype=dtype)
            pair = (angles.cos(), angles.sin())
        _COS_SIN_CACHE[key] = pair
        while len(_COS_SIN_CACHE) > COS_SIN_CACHE_SIZE:
            _COS_SIN_CACHE.popitem(last=False)
    else:
        _COS_SIN_CACHE.move_to_end(key)
    return pair


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs ``(p, p + d/2)`` of ``x`` (..., N, d) by angles with
    ``cos``, ``sin`` of shape (N, d/2) or (heads, N, d/2) (broadcast against ``x``)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def rotate_transposed(g: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The transposed (inverse) rotation of :func:`rotate`, used for gradients."""
    return rotate(g, cos, -sin)


def apply_rope_2d(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Rotate ``x`` of shape (..., heads, N, d) by the 2-D RoPE of grid ``hw`` (the rotation
    spans the ``heads`` axis, dim -3; a 2-D x is one head); same shape and dtype.

    The rotation is computed in float32 (float64 for float64 inputs).
    """
    n, d = x.shape[-2:]
    check_rope_args(n, d, hw)
    heads = x.shape[-3] if x.dim() >= 3 else 1
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    cos, sin = rope_2d_cos_sin(hw, d, heads, device=x.device, dtype=compute)
    return rotate(x.to(compute), cos, sin).to(x.dtype)
