"""2-D rotary position embedding over a token grid (shared by the linear and softmax cores).

Convention ("rotate half", per grid axis): for head dim ``d`` (a multiple of 4) the channels
form ``d/2`` pairs ``(x[p], x[p + d/2])``. Pairs ``p < d/4`` rotate by ``row * theta[p]`` and
pairs ``p >= d/4`` by ``col * theta[p - d/4]``, with ``theta[j] = base ** (-j / (d/4))``.
Token ``n`` sits at ``row = n // w, col = n % w`` of the ``(h, w)`` grid. The angles are
computed for whatever grid arrives, so any input resolution works without re-initialising.
"""
from collections import OrderedDict
from typing import Tuple

import torch

ROPE_BASE = 10000.0
# (h, w, head_dim, device, dtype) -> (cos, sin); eager mode only (see rope_2d_cos_sin)
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


def rope_2d_angles(hw: Tuple[int, int], head_dim: int, device=None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Rotation angles of shape (h * w, head_dim // 2) for an (h, w) grid."""
    h, w = hw
    quarter = head_dim // 4
    theta = ROPE_BASE ** (-torch.arange(quarter, device=device, dtype=torch.float64) / quarter)
    rows = torch.arange(h, device=device, dtype=torch.float64).repeat_interleave(w)
    cols = torch.arange(w, device=device, dtype=torch.float64).repeat(h)
    angles = torch.cat([rows[:, None] * theta, cols[:, None] * theta], dim=-1)
    return angles.to(dtype)


def _cacheable(hw) -> bool:
    """True in plain eager execution with a static grid: not under torch.compile, jit tracing
    or a dispatch mode (fake tensors of torch.export, FLOP counters), and ``hw`` plain ints
    (never symbolic sizes), so a cached tensor can neither leak into a trace nor be keyed on a
    value that changes."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode
    return (not torch.compiler.is_compiling() and not torch.jit.is_tracing()
            and all(type(v) is int for v in hw) and _get_current_dispatch_mode() is None)


def rope_2d_cos_sin(hw: Tuple[int, int], head_dim: int, device=None,
                    dtype: torch.dtype = torch.float32) -> Tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of :func:`rope_2d_angles`, each (h * w, head_dim // 2).

    In eager mode the pair is cached per (grid, head dim, device, dtype), the last
    ``COS_SIN_CACHE_SIZE`` of them, so the blocks of a stage (and later calls at the same
    resolution) do not recompute it; traced, compiled or exported code computes it in the
    graph. The cached tensors are never inference tensors (they are made outside
    ``torch.inference_mode``), so they also serve later training steps.
    """
    if not _cacheable(hw):
        angles = rope_2d_angles(hw, head_dim, device=device, dtype=dtype)
        return angles.cos(), angles.sin()
    device = torch.device(device) if device is not None else torch.device('cpu')
    key = (hw[0], hw[1], head_dim, device, dtype)
    pair = _COS_SIN_CACHE.get(key)
    if pair is None:
        with torch.inference_mode(False), torch.no_grad():
            angles = rope_2d_angles(hw, head_dim, device=device, dtype=dtype)
            pair = (angles.cos(), angles.sin())
        _COS_SIN_CACHE[key] = pair
        while len(_COS_SIN_CACHE) > COS_SIN_CACHE_SIZE:
            _COS_SIN_CACHE.popitem(last=False)
    else:
        _COS_SIN_CACHE.move_to_end(key)
    return pair


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs ``(p, p + d/2)`` of ``x`` (..., N, d) by angles with
    ``cos``, ``sin`` of shape (N, d/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def rotate_transposed(g: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The transposed (inverse) rotation of :func:`rotate`, used for gradients."""
    return rotate(g, cos, -sin)


def apply_rope_2d(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Rotate ``x`` of shape (..., N, d) by the 2-D RoPE of grid ``hw``; same shape and dtype.

    The rotation is computed in float32 (float64 for float64 inputs).
    """
    n, d = x.shape[-2:]
    check_rope_args(n, d, hw)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    cos, sin = rope_2d_cos_sin(hw, d, device=x.device, dtype=compute)
    return rotate(x.to(compute), cos, sin).to(x.dtype)
