"""The ``mmsola::linear_attention_fwd`` / ``mmsola::linear_attention_bwd`` custom ops.

Both backends run through these ops (``backend`` is an op argument), so ``torch.compile``
sees one opaque node whatever the backend (no graph break; fake implementations give the
output metadata), ``torch.jit`` tracing (used by mmengine's FLOP counter) shows one
``mmsola::linear_attention_fwd`` node, and the backward is hand-written for both backends.

``mmsola::linear_attention_fwd(q, k, v, h, w, eps, backend) -> (o, KV, s)``
    q, k, v: (B, H, N, d), same dtype, any strides. ``h, w``: the RoPE grid, ``h == 0`` for
    no RoPE (the rotation spans all H heads: :mod:`mmsola.ops.rope`). ``backend``: 'triton'
    or 'torch' (already resolved; see ``interface.py``).
    ``o``: (B, H, N, d) contiguous in the input dtype; ``KV = rope(phi(k))^T v`` (B, H, d, d)
    and ``s = sum_n phi(k)`` (B, H, d): fp32 (float64 for float64 inputs), saved for the
    backward and not differentiable.
``mmsola::linear_attention_bwd(do, q, k, v, KV, s, h, w, eps, backend) -> (dq, dk, dv)``

The implementations run with autocast disabled (the public function casts its inputs first)
and on the inputs' CUDA device (``torch.cuda.device(q.device)``), so they are safe on any GPU.

Eager fast path: dispatching a custom op with autograd costs ~40 us of Python per call, as much
as the whole fused forward of a typical stage on an H100. :func:`linear_attention_call`
therefore runs plain tensors in eager mode through :class:`LinearAttentionFunction` (an
``autograd.Function`` over the same implementations, ~5 us), and everything else (under
``torch.compile``, ``torch.jit`` tracing, fake tensors, tensor subclasses, dispatch modes such
as FLOP counters) through the custom op.
"""
import contextlib
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..eager import is_plain_eager
from .torch_backend import compute_dtype, linear_attention_torch_bwd, linear_attention_torch_fwd

LINEAR_ATTENTION_OP_NAME = 'mmsola::linear_attention_fwd'
LINEAR_ATTENTION_BWD_OP_NAME = 'mmsola::linear_attention_bwd'


def _grid(h: int, w: int) -> Optional[Tuple[int, int]]:
    return (h, w) if h > 0 else None


@contextlib.contextmanager
def _kernel_context(x: Tensor):
    """No autocast inside the op; the CUDA device of the inputs is the current device."""
    device = torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()
    with torch.autocast(device_type=x.device.type, enabled=False), device:
        yield


def _implementation(backend: str):
    """``(forward, backward)`` functions of a resolved ``backend`` ('triton' | 'torch'); the
    torch pair is looked up at each call (so it can be wrapped, e.g. to record its dtypes)."""
    if backend == 'triton':
        from .fused import fused_linear_attention_bwd, fused_linear_attention_fwd
        return fused_linear_attention_fwd, fused_linear_attention_bwd
    if backend == 'torch':
        return linear_attention_torch_fwd, linear_attention_torch_bwd
    raise ValueError(f"backend must be 'triton' or 'torch' here, got {backend!r}")


def _forward(q: Tensor, k: Tensor, v: Tensor, h: int, w: int, eps: float,
             backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    forward, _ = _implementation(backend)
    with _kernel_context(q):
        o, kv, ks = forward(q, k, v, _grid(h, w), eps)
    return o.contiguous(), kv.contiguous(), ks.contiguous()


def _backward_impl(do: Tensor, q: Tensor, k: Tensor, v: Tensor, kv: Tensor, ks: Tensor,
                   h: int, w: int, eps: float, backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    _, backward = _implementation(backend)
    with _kernel_context(q):
        grads = backward(do, q, k, v, kv, ks, _grid(h, w), eps)
    return tuple(g.contiguous() for g in grads)


@torch.library.custom_op(LINEAR_ATTENTION_OP_NAME, mutates_args=())
def linear_attention_fwd(q: Tensor, k: Tensor, v: Tensor, h: int, w: int, eps: float,
                         backend: str) -> Tuple[Tensor, Tensor, Tensor]:
    return _forward(q, k, v, h, w, eps, backend)


@linear_attention_fwd.register_fake
def _linear_attention_fwd_fake(q, k, v, h, w, eps, backend):
    batch, heads, _, d = q.shape
    state = compute_dtype(q)
    return (torch.empty_like(q, memory_format=torch.contiguous_format),
            q.new_empty((batch, heads, d, d), dtype=state),
            q.new_empty((batch, heads, d), dtype=state))


@torch.library.custom_op(LINEAR_ATTENTION_BWD_OP_NAME, mutates_args=())
def linear_attention_bwd(do: Tensor, q: Tensor, k: Tensor, v: Tensor, kv: Tensor, ks: Tensor,
                         h: int, w: int, eps: float, backend: str
                         ) -> Tuple[Tensor, Tensor, Tensor]:
    return _backward_impl(do, q, k, v, kv, ks, h, w, eps, backend)


@linear_attention_bwd.register_fake
def _linear_attention_bwd_fake(do, q, k, v, kv, ks, h, w, eps, backend):
    return tuple(torch.empty_like(x, memory_format=torch.contiguous_format) for x in (q, k, v))


def _setup_context(ctx, inputs, output):
    q, k, v, h, w, eps, backend = inputs
    _, kv, ks = output
    ctx.save_for_backward(q, k, v, kv, ks)
    ctx.mark_non_differentiable(kv, ks)
    ctx.args = (h, w, eps, backend)


def _backward(ctx, do, _dkv, _dks):
    q, k, v, kv, ks = ctx.saved_tensors
    dq, dk, dv = linear_attention_bwd(do, q, k, v, kv, ks, *ctx.args)
    return dq, dk, dv, None, None, None, None


linear_attention_fwd.register_autograd(_backward, setup_context=_setup_context)


class LinearAttentionFunction(torch.autograd.Function):
    """The eager fast path: the same forward and backward as the custom ops, less dispatch."""

    @staticmethod
    def forward(ctx, q, k, v, h, w, eps, backend):
        o, kv, ks = _forward(q, k, v, h, w, eps, backend)
        ctx.save_for_backward(q, k, v, kv, ks)
        ctx.args = (h, w, eps, backend)
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, kv, ks = ctx.saved_tensors
        dq, dk, dv = _backward_impl(do, q, k, v, kv, ks, *ctx.args)
        return dq, dk, dv, None, None, None, None


_PLAIN_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


def _use_custom_op(*tensors: Tensor) -> bool:
    return not is_plain_eager() or any(type(x) not in _PLAIN_TENSOR_TYPES for x in tensors)


def linear_attention_call(q: Tensor, k: Tensor, v: Tensor, h: int, w: int, eps: float,
                          backend: str) -> Tensor:
    """Output of the op: through the custom op, or the eager fast path (see module doc)."""
    if _use_custom_op(q, k, v):
        return linear_attention_fwd(q, k, v, h, w, eps, backend)[0]
    return LinearAttentionFunction.apply(q, k, v, h, w, eps, backend)
