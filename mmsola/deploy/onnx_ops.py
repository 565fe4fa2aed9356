"""ONNX translations (onnxscript, standard ONNX ops only) that torch's exporter needs for
SoLA-Vision models at dynamic sizes.

* ``mmsola::linear_attention_fwd``: torch's exporter (``torch.onnx.export(..., dynamo=True)``)
  finds no ONNX function for a custom op; :func:`linear_attention_fwd_onnx` is one, written
  with default-domain ops (Elu, MatMul, ReduceSum, Range, Cos, Sin, ...), so the exported
  graph runs in any ONNX runtime.
* ``aten::repeat_interleave.self_int`` and adaptive average pooling: the stock translations
  are wrong at sizes other than the traced one (see the functions); corrected here.

The op's RoPE grid ``(h, w)`` is a pair of symbolic ints when H and W are dynamic: the exporter
passes them as int64 scalars computed from the input's shape, and the rotation angles are built
inside the graph (``Range`` over the ``h * w`` tokens), exactly as :func:`mmsola.ops.rope.
rope_2d_angles` builds them (float64 positions and frequencies, cast to the compute dtype;
the rotation spans the heads, whose count is static).

Imports onnxscript and onnx_ir: import this module only after
:func:`mmsola.deploy.deps.require_deploy_deps`.
"""
from typing import Callable, Dict, Tuple, Union

import numpy as np
import onnx_ir as ir
import torch
from onnxscript.onnx_opset import opset18 as op

from mmsola.ops.rope import rope_pair_table

FLOAT, DOUBLE, INT64 = ir.DataType.FLOAT, ir.DataType.DOUBLE, ir.DataType.INT64


def _ints(*values: int):
    return op.Constant(value_ints=list(values))


def _scalar(value: float, like):
    """A scalar constant of the dtype of ``like``."""
    return op.CastLike(op.Constant(value_float=float(value)), like)


def _int64_scalar(x: Union[int, ir.Value]):
    """A static int or a symbolic size (the exporter's int64 value) as an int64 scalar."""
    if isinstance(x, int):
        return op.Constant(value_int=x)
    scalar_shape = op.Constant(value=ir.tensor(np.zeros(0, dtype=np.int64)))
    return op.Reshape(op.Cast(x, to=INT64), scalar_shape)  # 0-d, whatever arrived


def rope_cos_sin(h, w, head_dim: int, dtype: ir.DataType,
                 num_heads: int = 1) -> Tuple[ir.Value, ir.Value]:
    """cos and sin of the 2-D RoPE angles of an (h, w) grid: two (num_heads, h * w,
    head_dim / 2) values (the rotation spans the heads).

    Token ``n`` sits at row ``n // w``, column ``n % w``; which pairs turn with the row and
    their frequencies are :func:`mmsola.ops.rope.rope_pair_table`'s (static constants).
    """
    is_row, theta = rope_pair_table(head_dim, num_heads)
    h, w = _int64_scalar(h), _int64_scalar(w)
    tokens = op.Range(op.Constant(value_int=0), op.Mul(h, w), op.Constant(value_int=1))
    rows = op.Unsqueeze(op.Cast(op.Div(tokens, w), to=DOUBLE), _ints(1))  # (N, 1)
    cols = op.Unsqueeze(op.Cast(op.Mod(tokens, w), to=DOUBLE), _ints(1))
    theta = op.Constant(value=ir.tensor(theta.numpy()[:, None, :]))  # (H, 1, d/2)
    is_row = op.Constant(value=ir.tensor(is_row.numpy()[:, None, :]))
    angles = op.Where(is_row, op.Mul(rows, theta), op.Mul(cols, theta))  # (H, N, d/2)
    angles = op.Cast(angles, to=dtype)
    return op.Cos(angles), op.Sin(angles)


def rotate(x, cos, sin, head_dim: int):
    """Rotate the channel pairs ``(p, p + d/2)`` of x (..., N, d), as ``mmsola.ops.rope.rotate``.
    """
    half = head_dim // 2
    x1 = op.Slice(x, _ints(0), _ints(half), _ints(-1))
    x2 = op.Slice(x, _ints(half), _ints(head_dim), _ints(-1))
    return op.Concat(op.Sub(op.Mul(x1, cos), op.Mul(x2, sin)),
                     op.Add(op.Mul(x1, sin), op.Mul(x2, cos)), axis=-1)


def linear_attention_fwd_onnx(q, k, v, h, w, eps: float = 1e-6, backend: str = 'torch'):
    """``mmsola::linear_attention_fwd(q, k, v, h, w, eps, backend) -> (o, KV, s)`` in ONNX.

    q, k, v: (B, H, N, d) with a static head dim d and a static H;
    ``h, w``: the RoPE grid (ints or symbolic int64 scalars), ``h == 0`` (static) for no RoPE;
    ``backend`` does not matter here. Computed in float32 (float64 for float64 inputs) as the
    torch backend does::

        qf, kf = elu(q) + 1, elu(k) + 1
        s  = sum_n kf                                   # (B, H, d)
        KV = rope(kf)^T v                               # (B, H, d, d)
        o  = (rope(qf) @ KV) / N / (qf . s / N + eps)   # (B, H, N, d), the input dtype
    """
    head_dim = q.shape[-1] if q.shape is not None else None
    if not isinstance(head_dim, int):
        raise ValueError('linear_attention ONNX export needs a static head dim (the last axis '
                         f'of q), got shape {q.shape}')
    num_heads = q.shape[1]
    if not isinstance(num_heads, int):
        raise ValueError('linear_attention ONNX export needs a static number of heads (axis 1 '
                         f'of q), got shape {q.shape}')
    dtype = q.dtype
    compute = DOUBLE if dtype == DOUBLE else FLOAT
    if dtype != compute:
        q, k, v = (op.Cast(x, to=compute) for x in (q, k, v))
    one = _scalar(1.0, q)
    qf, kf = op.Add(op.Elu(q), one), op.Add(op.Elu(k), one)
    num_tokens = op.Cast(op.Shape(q, start=2, end=3), to=compute)  # (1, )
    ks = op.ReduceSum(kf, _ints(2), keepdims=0)  # (B, H, d)
    denom = op.Add(op.Div(op.MatMul(qf, op.Unsqueeze(ks, _ints(-1))), num_tokens),
                   _scalar(eps, q))
    scale = op.Div(op.Reciprocal(denom), num_tokens)  # z / N, (B, H, N, 1)
    if isinstance(h, int) and h == 0:
        qr, kr = qf, kf
    else:
        cos, sin = rope_cos_sin(h, w, head_dim, compute, num_heads)
        qr, kr = rotate(qf, cos, sin, head_dim), rotate(kf, cos, sin, head_dim)
    kv = op.MatMul(op.Transpose(kr, perm=[0, 1, 3, 2]), v)
    o = op.Mul(op.MatMul(qr, kv), scale)
    if dtype != compute:
        o = op.Cast(o, to=dtype)
    return o, kv, ks


def repeat_interleave_self_int_onnx(self, repeats, dim=None, output_size=None):
    """``aten::repeat_interleave.self_int`` (one repeat count, maybe symbolic) in ONNX.

    Replaces onnxscript 0.7's translation, which expands the unsqueezed (n, 1) input to the
    shape [repeats, 1] instead of [1, repeats] when ``repeats`` is symbolic: ONNX Runtime then
    fails ('invalid expand shape') whenever n != repeats. The 2-D RoPE of the softmax blocks
    (``rope_2d_angles``: rows = arange(h).repeat_interleave(w)) hits it at every non-square
    grid.
    """
    if dim is None:
        self, dim, rank = op.Reshape(self, _ints(-1)), 0, 1
    else:
        rank = len(self.shape)
    axis = dim % rank
    unsqueezed = op.Unsqueeze(self, _ints(axis + 1))  # (..., n, 1, ...)
    repeats = op.Constant(value_ints=[repeats]) if isinstance(repeats, int) else op.Reshape(
        op.Cast(repeats, to=INT64), _ints(-1))
    expanded = op.Expand(unsqueezed, op.Concat(op.Shape(unsqueezed, start=0, end=axis + 1),
                                               repeats, op.Shape(unsqueezed, start=axis + 2),
                                               axis=0))  # (..., n, repeats, ...)
    shape = op.Concat(op.Shape(self, start=0, end=axis), _ints(-1),
                      op.Shape(self, start=axis + 1), axis=0)
    return op.Reshape(expanded, shape)


def _pool_matrix(size, bins: int, like):
    """(bins, size) averaging matrix of adaptive pooling over an axis of symbolic ``size``:
    row i averages [floor(i * size / bins), ceil((i + 1) * size / bins)), as torch does."""
    size = _int64_scalar(size)
    positions = op.Range(op.Constant(value_int=0), size, op.Constant(value_int=1))  # (size, )
    index = op.Constant(value=ir.tensor(np.arange(bins, dtype=np.int64)[:, None]))  # (bins, 1)
    bins_ = op.Constant(value_int=bins)
    start = op.Div(op.Mul(index, size), bins_)
    end = op.Div(op.Add(op.Mul(op.Add(index, op.Constant(value_int=1)), size),
                        op.Constant(value_int=bins - 1)), bins_)
    inside = op.And(op.GreaterOrEqual(positions, start), op.Less(positions, end))
    return op.Div(op.CastLike(inside, like), op.CastLike(op.Sub(end, start), like))


def adaptive_avg_pool2d_onnx(self, output_size):
    """``aten::adaptive_avg_pool2d`` / ``aten::_adaptive_avg_pool2d`` for any input size.

    torch's decomposition of adaptive pooling picks its kernel layout from the traced size
    (``if ih % oh == 0 ...``), so with a dynamic H or W the graph is right only for sizes that
    take the same branches (found with mmseg's PPM in UperNet: a 64x96 export was wrong at
    200x328). Here the bins are computed from the runtime size: ``P_h @ x @ P_w^T`` with the
    (bins, size) averaging matrices of :func:`_pool_matrix`; (1, 1) is a ReduceMean.
    """
    out_h, out_w = output_size
    if not (isinstance(out_h, int) and isinstance(out_w, int)):
        raise ValueError(f'adaptive_avg_pool2d ONNX export needs a static output size, got '
                         f'{output_size}')
    if (out_h, out_w) == (1, 1):
        return op.ReduceMean(self, _ints(-2, -1), keepdims=1)
    rows = _pool_matrix(op.Shape(self, start=-2, end=-1), out_h, self)  # (out_h, H)
    cols = _pool_matrix(op.Shape(self, start=-1), out_w, self)  # (out_w, W)
    return op.MatMul(op.MatMul(rows, self), op.Transpose(cols, perm=[1, 0]))


def custom_translation_table() -> Dict[Callable, Callable]:
    """The translations for ``torch.onnx.export(..., custom_translation_table=...)``:
    ``mmsola::linear_attention_fwd``, and two aten ops whose stock export is wrong at some
    dynamic sizes: ``repeat_interleave.self_int`` and adaptive average pooling.
    """
    import mmsola.ops  # noqa: F401  (registers the custom op)
    return {
        torch.ops.mmsola.linear_attention_fwd.default: linear_attention_fwd_onnx,
        torch.ops.aten.repeat_interleave.self_int: repeat_interleave_self_int_onnx,
        torch.ops.aten.adaptive_avg_pool2d.default: adaptive_avg_pool2d_onnx,
        torch.ops.aten._adaptive_avg_pool2d.default: adaptive_avg_pool2d_onnx,
    }
