"""Fused Triton kernels of the linear-attention op (forward and hand-written backward).

Math (per batch-head; ``phi = elu + 1``, ``rope`` the 2-D RoPE of :mod:`mmsola.ops.rope`)::

    qf, kf = phi(q), phi(k)          qr, kr = rope(qf), rope(kf)
    s  = sum_n kf                    KV = kr^T v                      (d x d, fp32)
    z  = 1 / (qf . s / N + eps)      o  = (qr KV / N) * z

Work split. The forward needs the sums ``KV`` and ``s`` over all tokens before any output, and
the backward needs ``dKV`` and ``ds`` over all tokens before any dk, dv. Two ways to run it,
chosen per call by :func:`_chunking` from ``B * heads`` and the GPU's size (never from a
timing, so nothing is re-tuned when N changes):

one pass (``B * heads`` fills the GPU: one program per batch-head, one kernel each way)
    ``_fwd_kernel``: reads k, v (sums ``KV``, ``s`` in registers), then q; writes o.
    ``_bwd_kernel``: reads q, dO (writes dq, sums ``dKV``, ``ds``), then k, v; writes dk, dv.
split (few batch-heads, e.g. 16 for (2, 8, 32768, 64)): the token axis is cut into ``NC``
chunks of ``CHUNK`` tokens on a ``(NC, B * heads)`` grid, two kernels each way, with the
per-chunk partial sums (a (B, H, NC, d, d) fp32 workspace) added up by torch in between:
    forward: ``_fwd_state_kernel`` (k, v -> partial ``KV``, ``s``), ``_fwd_out_kernel`` (q -> o)
    backward: ``_bwd_q_kernel`` (q, dO -> dq, partial ``dKV``, ``ds``),
    ``_bwd_kv_kernel`` (k, v -> dk, dv)

Either way the forward reads q, k, v and writes o once, and the backward (which recomputes
the features; the forward saves only ``KV`` and ``s``) reads q, k, v, dO and writes dq, dk,
dv once: the minimum for a fused op. Both ways are built from the same four token-range
passes (``_state_pass``, ``_out_pass``, ``_dq_pass``, ``_dkv_pass``).

The rotation pairs channels ``(p, p + d/2)``, so features are handled as two halves of
``d/2`` channels, and the cos/sin of the rotation are computed in-kernel from the token index
and the head index (the rotation spans the full width ``C = heads * d``; no tables in
memory). All arithmetic is in fp32. Dots take fp32 operands: IEEE precision
for fp32 inputs (relative error ~1e-6), TF32 for bf16/fp16 inputs (more precise than bf16
and with fp32 range, so large fp16 inputs cannot overflow in the dot operands).

Compilation. ``N``, the grid width ``W`` and ``CHUNK`` are runtime integers listed in
``do_not_specialize`` (``NC`` is the grid size), so a new resolution reuses the compiled
kernel; ``NUM_HEADS`` is an ordinary runtime integer (specialised as Triton does, e.g. on
being 1, never one variant per resolution). Compile-time
constants are only the head dim, whether RoPE is applied, the dot precision, the trig path
(CUDA PTX or interpreter) and the block sizes, which depend on head dim and dtype only (no
autotuning). Strides are specialised by Triton as usual (divisibility by 16): for the
supported head dims (multiples of 16) every stride of a (B, heads, N, d) view of a contiguous
tensor is a multiple of 16 whatever N is.
"""
import math
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl

from ..rope import ROPE_BASE

# the kernels compute theta = ROPE_BASE ** -x as exp2(-x * log2(ROPE_BASE))
_LOG2_ROPE_BASE = tl.constexpr(math.log2(ROPE_BASE))

# runtime integers that must not be specialised (they change with the image size)
_DYNAMIC = ['N', 'W', 'CHUNK']
_DYNAMIC_ONE_PASS = ['N', 'W']


@triton.jit
def _phi(x):
    """ELU + 1; exp only of the non-positive part, so large inputs cannot overflow."""
    return tl.where(x > 0, x + 1.0, tl.exp(tl.minimum(x, 0.0)))


@triton.jit
def _phi_grad(x):
    return tl.where(x > 0, 1.0, tl.exp(tl.minimum(x, 0.0)))


@triton.jit
def _cos_sin(angle, FAST_TRIG: tl.constexpr):
    """cos and sin of fp32 ``angle``, reduced to [-pi, pi] first (Cody-Waite, 2 pi = C1 + C2
    with C1 = 6.28125 exact in 8 bits, so ``k * C1`` is exact for the angles RoPE makes).

    ``FAST_TRIG`` (CUDA): the PTX ``cos.approx`` / ``sin.approx`` instructions (absolute error
    ~1e-6 on [-pi, pi], a few instructions) instead of the accurate libdevice calls (~25+
    instructions each, which would make the memory-bound kernels compute-bound at small d).
    """
    k = tl.floor(angle * 0.15915494309189535 + 0.5)
    r = angle - k * 6.28125
    r = r - k * 0.0019353071795864769
    if FAST_TRIG:
        c = tl.inline_asm_elementwise('cos.approx.f32 $0, $1;', '=f,f', [r], dtype=tl.float32,
                                      is_pure=True, pack=1)
        s = tl.inline_asm_elementwise('sin.approx.f32 $0, $1;', '=f,f', [r], dtype=tl.float32,
                                      is_pure=True, pack=1)
    else:
        c = tl.cos(r)
        s = tl.sin(r)
    return c, s


@triton.jit
def _features(x1, x2, mask):
    """phi of both channel halves, zero on masked-out rows and channels."""
    return tl.where(mask, _phi(x1), 0.0), tl.where(mask, _phi(x2), 0.0)


@triton.jit
def _rotate(x1, x2, cos, sin):
    """Rotate the channel pairs (x1, x2) by the angles of ``cos``, ``sin``; with ``-sin`` it
    is the transposed rotation (rope^T), used for gradients."""
    return x1 * cos - x2 * sin, x1 * sin + x2 * cos


@triton.jit
def _rope_span(pid_bh, NUM_HEADS, HALF: tl.constexpr):
    """``(pair0, quarter)`` of batch-head ``pid_bh``: the global index of its first channel
    pair and ``C/4`` of the rotation's span, the full width ``C = NUM_HEADS * d``
    (``HALF = d/2``)."""
    return (pid_bh % NUM_HEADS) * HALF, NUM_HEADS * (HALF // 2)


@triton.jit
def _rope_freqs(pair0, quarter, BDH: tl.constexpr):
    """``(is_row, theta)`` of the head's pairs, (BDH,) each: global pair ``P = pair0 + p``
    turns by ``row * theta[P]`` if ``P < quarter``, else by ``col * theta[P - quarter]``;
    ``theta[j] = base ** (-j / quarter)`` (see mmsola.ops.rope)."""
    pair = pair0 + tl.arange(0, BDH)
    is_row = pair < quarter
    j = tl.where(is_row, pair, pair - quarter).to(tl.float32)
    return is_row, tl.exp2(j * (-_LOG2_ROPE_BASE) / (quarter * 1.0))


@triton.jit
def _rope_cos_sin(offs_n, W, is_row, theta, FAST_TRIG: tl.constexpr):
    """cos and sin of the rotation angles, (BLOCK_N, BDH), for token indices ``offs_n`` and
    the pair table of :func:`_rope_freqs`."""
    row = offs_n // W
    col = offs_n - row * W
    pos = tl.where(is_row[None, :], row[:, None], col[:, None]).to(tl.float32)
    return _cos_sin(pos * theta[None, :], FAST_TRIG)


@triton.jit
def _load_halves(base, offs_n, stride_n, N, HALF: tl.constexpr, BDH: tl.constexpr):
    """Rows ``offs_n`` of a (N, d) matrix as two fp32 halves (BLOCK_N, BDH) and their mask."""
    p = tl.arange(0, BDH)
    mask = (offs_n[:, None] < N) & (p[None, :] < HALF)
    ptr = base + offs_n[:, None].to(tl.int64) * stride_n + p[None, :]
    x1 = tl.load(ptr, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(ptr + HALF, mask=mask, other=0.0).to(tl.float32)
    return x1, x2, mask


@triton.jit
def _store_halves(base, x1, x2, offs_n, stride_n, N, HALF: tl.constexpr, BDH: tl.constexpr):
    p = tl.arange(0, BDH)
    mask = (offs_n[:, None] < N) & (p[None, :] < HALF)
    ptr = base + offs_n[:, None].to(tl.int64) * stride_n + p[None, :]
    tl.store(ptr, x1.to(base.dtype.element_ty), mask=mask)
    tl.store(ptr + HALF, x2.to(base.dtype.element_ty), mask=mask)


@triton.jit
def _load_full(base, offs_n, stride_n, N, D: tl.constexpr, BD: tl.constexpr):
    j = tl.arange(0, BD)
    mask = (offs_n[:, None] < N) & (j[None, :] < D)
    ptr = base + offs_n[:, None].to(tl.int64) * stride_n + j[None, :]
    return tl.load(ptr, mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _store_full(base, x, offs_n, stride_n, N, D: tl.constexpr, BD: tl.constexpr):
    j = tl.arange(0, BD)
    mask = (offs_n[:, None] < N) & (j[None, :] < D)
    ptr = base + offs_n[:, None].to(tl.int64) * stride_n + j[None, :]
    tl.store(ptr, x.to(base.dtype.element_ty), mask=mask)


@triton.jit
def _load_state(base, D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                BDH: tl.constexpr):
    """A (d, d) fp32 state as its two row halves (BDH, BD); rows are feature channels."""
    p = tl.arange(0, BDH)
    j = tl.arange(0, BD)
    mask = (p[:, None] < HALF) & (j[None, :] < D)
    ptr = base + p[:, None] * D + j[None, :]
    return tl.load(ptr, mask=mask, other=0.0), tl.load(ptr + HALF * D, mask=mask, other=0.0)


@triton.jit
def _store_state(base, s1, s2, D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                 BDH: tl.constexpr):
    p = tl.arange(0, BDH)
    j = tl.arange(0, BD)
    mask = (p[:, None] < HALF) & (j[None, :] < D)
    ptr = base + p[:, None] * D + j[None, :]
    tl.store(ptr, s1, mask=mask)
    tl.store(ptr + HALF * D, s2, mask=mask)


@triton.jit
def _load_vec(base, HALF: tl.constexpr, BDH: tl.constexpr):
    p = tl.arange(0, BDH)
    return (tl.load(base + p, mask=p < HALF, other=0.0),
            tl.load(base + HALF + p, mask=p < HALF, other=0.0))


@triton.jit
def _store_vec(base, x1, x2, HALF: tl.constexpr, BDH: tl.constexpr):
    p = tl.arange(0, BDH)
    tl.store(base + p, x1, mask=p < HALF)
    tl.store(base + HALF + p, x2, mask=p < HALF)


@triton.jit
def _head_base(X, pid_bh, NUM_HEADS, stride_b, stride_h):
    """Pointer to the (N, d) matrix of batch-head ``pid_bh`` of a (B, H, N, d) tensor."""
    b = (pid_bh // NUM_HEADS).to(tl.int64)
    h = (pid_bh % NUM_HEADS).to(tl.int64)
    return X + b * stride_b + h * stride_h


# ---------------------------------------------------------------------------------------------
# passes over a token range [start, end) of one batch-head; the kernels below compose them
# ---------------------------------------------------------------------------------------------

@triton.jit
def _state_pass(k_base, v_base, stride_kn, stride_vn, start, end, N, W, rope_pair0, rope_quarter,
                D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr, BDH: tl.constexpr,
                BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr, DOT_PRECISION: tl.constexpr,
                FAST_TRIG: tl.constexpr):
    """Reads k, v: ``KV = rope(phi(k))^T v`` as row halves (BDH, BD) and ``s = sum phi(k)``
    as halves (BDH,), fp32 sums over the range."""
    kv1 = tl.zeros((BDH, BD), dtype=tl.float32)
    kv2 = tl.zeros((BDH, BD), dtype=tl.float32)
    ks1 = tl.zeros((BDH, ), dtype=tl.float32)
    ks2 = tl.zeros((BDH, ), dtype=tl.float32)
    is_row, theta = _rope_freqs(rope_pair0, rope_quarter, BDH)
    for n0 in tl.range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        k1, k2, mask = _load_halves(k_base, offs_n, stride_kn, N, HALF, BDH)
        v = _load_full(v_base, offs_n, stride_vn, N, D, BD)
        kf1, kf2 = _features(k1, k2, mask)
        ks1 += tl.sum(kf1, axis=0)
        ks2 += tl.sum(kf2, axis=0)
        if USE_ROPE:
            cos, sin = _rope_cos_sin(offs_n, W, is_row, theta, FAST_TRIG)
            kr1, kr2 = _rotate(kf1, kf2, cos, sin)
        else:
            kr1 = kf1
            kr2 = kf2
        kv1 = tl.dot(tl.trans(kr1), v, kv1, input_precision=DOT_PRECISION)
        kv2 = tl.dot(tl.trans(kr2), v, kv2, input_precision=DOT_PRECISION)
    return kv1, kv2, ks1, ks2


@triton.jit
def _out_pass(q_base, o_base, stride_qn, stride_on, kv1, kv2, ks1, ks2, start, end, N, W,
              rope_pair0, rope_quarter, eps,
              D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr, BDH: tl.constexpr,
              BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr, DOT_PRECISION: tl.constexpr,
              FAST_TRIG: tl.constexpr):
    """Reads q, writes ``o = (rope(phi(q)) KV / N) / (phi(q) . s / N + eps)``."""
    inv_n = 1.0 / N.to(tl.float32)
    is_row, theta = _rope_freqs(rope_pair0, rope_quarter, BDH)
    for n0 in tl.range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        q1, q2, mask = _load_halves(q_base, offs_n, stride_qn, N, HALF, BDH)
        qf1, qf2 = _features(q1, q2, mask)
        den = tl.sum(qf1 * ks1[None, :], axis=1) + tl.sum(qf2 * ks2[None, :], axis=1)
        z = 1.0 / (den * inv_n + eps)
        if USE_ROPE:
            cos, sin = _rope_cos_sin(offs_n, W, is_row, theta, FAST_TRIG)
            qr1, qr2 = _rotate(qf1, qf2, cos, sin)
        else:
            qr1 = qf1
            qr2 = qf2
        u = tl.dot(qr1, kv1, input_precision=DOT_PRECISION)
        u = tl.dot(qr2, kv2, u, input_precision=DOT_PRECISION)
        _store_full(o_base, u * (z * inv_n)[:, None], offs_n, stride_on, N, D, BD)


@triton.jit
def _dq_pass(q_base, do_base, dq_base, stride_qn, stride_don, stride_dqn, kv1, kv2, ks1, ks2,
             start, end, N, W, rope_pair0, rope_quarter, eps,
             D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr, BDH: tl.constexpr,
             BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr, DOT_PRECISION: tl.constexpr,
             FAST_TRIG: tl.constexpr):
    """Reads q, dO; writes dq. Returns the range's share of ``dKV`` (row halves) and ``ds``."""
    inv_n = 1.0 / N.to(tl.float32)
    dkv1 = tl.zeros((BDH, BD), dtype=tl.float32)
    dkv2 = tl.zeros((BDH, BD), dtype=tl.float32)
    ds1 = tl.zeros((BDH, ), dtype=tl.float32)
    ds2 = tl.zeros((BDH, ), dtype=tl.float32)
    is_row, theta = _rope_freqs(rope_pair0, rope_quarter, BDH)
    for n0 in tl.range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        q1, q2, mask = _load_halves(q_base, offs_n, stride_qn, N, HALF, BDH)
        do = _load_full(do_base, offs_n, stride_don, N, D, BD)
        qf1, qf2 = _features(q1, q2, mask)
        den = tl.sum(qf1 * ks1[None, :], axis=1) + tl.sum(qf2 * ks2[None, :], axis=1)
        z = 1.0 / (den * inv_n + eps)
        if USE_ROPE:
            cos, sin = _rope_cos_sin(offs_n, W, is_row, theta, FAST_TRIG)
            qr1, qr2 = _rotate(qf1, qf2, cos, sin)
        else:
            qr1 = qf1
            qr2 = qf2
        # u = qr KV / N (recomputed), dz = dO . u, du = dO z
        u = tl.dot(qr1, kv1, input_precision=DOT_PRECISION)
        u = tl.dot(qr2, kv2, u, input_precision=DOT_PRECISION) * inv_n
        dz = tl.sum(do * u, axis=1)
        du = do * z[:, None]
        # dqr = du KV^T / N, then through the rotation (transposed) and the normaliser
        dqr1 = tl.dot(du, tl.trans(kv1), input_precision=DOT_PRECISION) * inv_n
        dqr2 = tl.dot(du, tl.trans(kv2), input_precision=DOT_PRECISION) * inv_n
        if USE_ROPE:
            dqf1, dqf2 = _rotate(dqr1, dqr2, cos, -sin)
        else:
            dqf1 = dqr1
            dqf2 = dqr2
        g = -z * z * dz * inv_n
        dqf1 += g[:, None] * ks1[None, :]
        dqf2 += g[:, None] * ks2[None, :]
        _store_halves(dq_base, dqf1 * _phi_grad(q1), dqf2 * _phi_grad(q2), offs_n, stride_dqn,
                      N, HALF, BDH)
        # dKV = qr^T du / N (scaled once, after the loop) and ds = sum_n g qf
        dkv1 = tl.dot(tl.trans(qr1), du, dkv1, input_precision=DOT_PRECISION)
        dkv2 = tl.dot(tl.trans(qr2), du, dkv2, input_precision=DOT_PRECISION)
        ds1 += tl.sum(g[:, None] * qf1, axis=0)
        ds2 += tl.sum(g[:, None] * qf2, axis=0)
    return dkv1 * inv_n, dkv2 * inv_n, ds1, ds2


@triton.jit
def _dkv_pass(k_base, v_base, dk_base, dv_base, stride_kn, stride_vn, stride_dkn, stride_dvn,
              dkv1, dkv2, ds1, ds2, start, end, N, W, rope_pair0, rope_quarter,
              D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr, BDH: tl.constexpr,
              BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr, DOT_PRECISION: tl.constexpr,
              FAST_TRIG: tl.constexpr):
    """Reads k, v; writes ``dv = rope(phi(k)) dKV`` and dk (through rope^T, the ``ds`` term
    and phi')."""
    is_row, theta = _rope_freqs(rope_pair0, rope_quarter, BDH)
    for n0 in tl.range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        k1, k2, mask = _load_halves(k_base, offs_n, stride_kn, N, HALF, BDH)
        v = _load_full(v_base, offs_n, stride_vn, N, D, BD)
        kf1, kf2 = _features(k1, k2, mask)
        if USE_ROPE:
            cos, sin = _rope_cos_sin(offs_n, W, is_row, theta, FAST_TRIG)
            kr1, kr2 = _rotate(kf1, kf2, cos, sin)
        else:
            kr1 = kf1
            kr2 = kf2
        dv = tl.dot(kr1, dkv1, input_precision=DOT_PRECISION)
        dv = tl.dot(kr2, dkv2, dv, input_precision=DOT_PRECISION)
        _store_full(dv_base, dv, offs_n, stride_dvn, N, D, BD)
        dkr1 = tl.dot(v, tl.trans(dkv1), input_precision=DOT_PRECISION)
        dkr2 = tl.dot(v, tl.trans(dkv2), input_precision=DOT_PRECISION)
        if USE_ROPE:
            dkf1, dkf2 = _rotate(dkr1, dkr2, cos, -sin)
        else:
            dkf1 = dkr1
            dkf2 = dkr2
        dkf1 += ds1[None, :]
        dkf2 += ds2[None, :]
        _store_halves(dk_base, dkf1 * _phi_grad(k1), dkf2 * _phi_grad(k2), offs_n, stride_dkn,
                      N, HALF, BDH)


# ---------------------------------------------------------------------------------------------
# kernels. Grid (NC, B * heads): program (c, bh) handles tokens [c * CHUNK, (c + 1) * CHUNK)
# of batch-head bh. The one-pass kernels run with NC = 1 and take all N tokens.
# ---------------------------------------------------------------------------------------------

@triton.jit(do_not_specialize=_DYNAMIC_ONE_PASS)
def _fwd_kernel(Q, K, V, O, KV, KS,
                stride_qb, stride_qh, stride_qn, stride_kb, stride_kh, stride_kn,
                stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_on,
                N, W, NUM_HEADS, eps,
                D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """The whole forward of one batch-head: the state over all tokens, then the output."""
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    kv1, kv2, ks1, ks2 = _state_pass(_head_base(K, pid_bh, NUM_HEADS, stride_kb, stride_kh),
                                     _head_base(V, pid_bh, NUM_HEADS, stride_vb, stride_vh),
                                     stride_kn, stride_vn, 0, N, N, W, pair0, quarter, D,
                                     HALF, BD, BDH, BLOCK_N, USE_ROPE, DOT_PRECISION,
                                     FAST_TRIG)
    _store_state(KV + pid_bh.to(tl.int64) * D * D, kv1, kv2, D, HALF, BD, BDH)
    _store_vec(KS + pid_bh.to(tl.int64) * D, ks1, ks2, HALF, BDH)
    _out_pass(_head_base(Q, pid_bh, NUM_HEADS, stride_qb, stride_qh),
              _head_base(O, pid_bh, NUM_HEADS, stride_ob, stride_oh), stride_qn, stride_on,
              kv1, kv2, ks1, ks2, 0, N, N, W, pair0, quarter, eps, D, HALF, BD, BDH, BLOCK_N,
              USE_ROPE, DOT_PRECISION, FAST_TRIG)


@triton.jit(do_not_specialize=_DYNAMIC_ONE_PASS)
def _bwd_kernel(Q, K, V, DO, KV, KS, DQ, DK, DV,
                stride_qb, stride_qh, stride_qn, stride_kb, stride_kh, stride_kn,
                stride_vb, stride_vh, stride_vn, stride_dob, stride_doh, stride_don,
                stride_dqb, stride_dqh, stride_dqn, stride_dkb, stride_dkh, stride_dkn,
                stride_dvb, stride_dvh, stride_dvn,
                N, W, NUM_HEADS, eps,
                D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """The whole backward of one batch-head: dq and dKV, ds over all tokens, then dk, dv."""
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    kv1, kv2 = _load_state(KV + pid_bh.to(tl.int64) * D * D, D, HALF, BD, BDH)
    ks1, ks2 = _load_vec(KS + pid_bh.to(tl.int64) * D, HALF, BDH)
    dkv1, dkv2, ds1, ds2 = _dq_pass(
        _head_base(Q, pid_bh, NUM_HEADS, stride_qb, stride_qh),
        _head_base(DO, pid_bh, NUM_HEADS, stride_dob, stride_doh),
        _head_base(DQ, pid_bh, NUM_HEADS, stride_dqb, stride_dqh), stride_qn, stride_don,
        stride_dqn, kv1, kv2, ks1, ks2, 0, N, N, W, pair0, quarter, eps, D, HALF, BD, BDH,
        BLOCK_N, USE_ROPE, DOT_PRECISION, FAST_TRIG)
    _dkv_pass(_head_base(K, pid_bh, NUM_HEADS, stride_kb, stride_kh),
              _head_base(V, pid_bh, NUM_HEADS, stride_vb, stride_vh),
              _head_base(DK, pid_bh, NUM_HEADS, stride_dkb, stride_dkh),
              _head_base(DV, pid_bh, NUM_HEADS, stride_dvb, stride_dvh), stride_kn, stride_vn,
              stride_dkn, stride_dvn, dkv1, dkv2, ds1, ds2, 0, N, N, W, pair0, quarter, D, HALF,
              BD, BDH, BLOCK_N, USE_ROPE, DOT_PRECISION, FAST_TRIG)


@triton.jit(do_not_specialize=_DYNAMIC)
def _fwd_state_kernel(K, V, KV_PART, KS_PART,
                      stride_kb, stride_kh, stride_kn, stride_vb, stride_vh, stride_vn,
                      N, W, CHUNK, NUM_HEADS,
                      D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                      BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                      DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """Split forward, step 1: the chunk's partial ``KV`` and ``s`` -> workspace."""
    pid_c = tl.program_id(0)
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    start = pid_c * CHUNK
    kv1, kv2, ks1, ks2 = _state_pass(_head_base(K, pid_bh, NUM_HEADS, stride_kb, stride_kh),
                                     _head_base(V, pid_bh, NUM_HEADS, stride_vb, stride_vh),
                                     stride_kn, stride_vn, start, tl.minimum(start + CHUNK, N),
                                     N, W, pair0, quarter, D, HALF, BD, BDH, BLOCK_N,
                                     USE_ROPE, DOT_PRECISION, FAST_TRIG)
    part = pid_bh.to(tl.int64) * tl.num_programs(0) + pid_c
    _store_state(KV_PART + part * D * D, kv1, kv2, D, HALF, BD, BDH)
    _store_vec(KS_PART + part * D, ks1, ks2, HALF, BDH)


@triton.jit(do_not_specialize=_DYNAMIC)
def _fwd_out_kernel(Q, O, KV, KS,
                    stride_qb, stride_qh, stride_qn, stride_ob, stride_oh, stride_on,
                    N, W, CHUNK, NUM_HEADS, eps,
                    D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                    BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                    DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """Split forward, step 2: the chunk's output from the summed state."""
    pid_c = tl.program_id(0)
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    kv1, kv2 = _load_state(KV + pid_bh.to(tl.int64) * D * D, D, HALF, BD, BDH)
    ks1, ks2 = _load_vec(KS + pid_bh.to(tl.int64) * D, HALF, BDH)
    start = pid_c * CHUNK
    _out_pass(_head_base(Q, pid_bh, NUM_HEADS, stride_qb, stride_qh),
              _head_base(O, pid_bh, NUM_HEADS, stride_ob, stride_oh), stride_qn, stride_on,
              kv1, kv2, ks1, ks2, start, tl.minimum(start + CHUNK, N), N, W, pair0, quarter, eps,
              D, HALF, BD, BDH, BLOCK_N, USE_ROPE, DOT_PRECISION, FAST_TRIG)


@triton.jit(do_not_specialize=_DYNAMIC)
def _bwd_q_kernel(Q, DO, KV, KS, DQ, DKV_PART, DS_PART,
                  stride_qb, stride_qh, stride_qn, stride_dob, stride_doh, stride_don,
                  stride_dqb, stride_dqh, stride_dqn,
                  N, W, CHUNK, NUM_HEADS, eps,
                  D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                  BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                  DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """Split backward, step 1: the chunk's dq, and its partial ``dKV`` and ``ds``."""
    pid_c = tl.program_id(0)
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    kv1, kv2 = _load_state(KV + pid_bh.to(tl.int64) * D * D, D, HALF, BD, BDH)
    ks1, ks2 = _load_vec(KS + pid_bh.to(tl.int64) * D, HALF, BDH)
    start = pid_c * CHUNK
    dkv1, dkv2, ds1, ds2 = _dq_pass(
        _head_base(Q, pid_bh, NUM_HEADS, stride_qb, stride_qh),
        _head_base(DO, pid_bh, NUM_HEADS, stride_dob, stride_doh),
        _head_base(DQ, pid_bh, NUM_HEADS, stride_dqb, stride_dqh), stride_qn, stride_don,
        stride_dqn, kv1, kv2, ks1, ks2, start, tl.minimum(start + CHUNK, N), N, W, pair0, quarter,
        eps, D, HALF, BD, BDH, BLOCK_N, USE_ROPE, DOT_PRECISION, FAST_TRIG)
    part = pid_bh.to(tl.int64) * tl.num_programs(0) + pid_c
    _store_state(DKV_PART + part * D * D, dkv1, dkv2, D, HALF, BD, BDH)
    _store_vec(DS_PART + part * D, ds1, ds2, HALF, BDH)


@triton.jit(do_not_specialize=_DYNAMIC)
def _bwd_kv_kernel(K, V, DKV, DS, DK, DV,
                   stride_kb, stride_kh, stride_kn, stride_vb, stride_vh, stride_vn,
                   stride_dkb, stride_dkh, stride_dkn, stride_dvb, stride_dvh, stride_dvn,
                   N, W, CHUNK, NUM_HEADS,
                   D: tl.constexpr, HALF: tl.constexpr, BD: tl.constexpr,
                   BDH: tl.constexpr, BLOCK_N: tl.constexpr, USE_ROPE: tl.constexpr,
                   DOT_PRECISION: tl.constexpr, FAST_TRIG: tl.constexpr):
    """Split backward, step 2: the chunk's dk, dv from the summed ``dKV`` and ``ds``."""
    pid_c = tl.program_id(0)
    pid_bh = tl.program_id(1)
    pair0, quarter = _rope_span(pid_bh, NUM_HEADS, HALF)
    dkv1, dkv2 = _load_state(DKV + pid_bh.to(tl.int64) * D * D, D, HALF, BD, BDH)
    ds1, ds2 = _load_vec(DS + pid_bh.to(tl.int64) * D, HALF, BDH)
    start = pid_c * CHUNK
    _dkv_pass(_head_base(K, pid_bh, NUM_HEADS, stride_kb, stride_kh),
              _head_base(V, pid_bh, NUM_HEADS, stride_vb, stride_vh),
              _head_base(DK, pid_bh, NUM_HEADS, stride_dkb, stride_dkh),
              _head_base(DV, pid_bh, NUM_HEADS, stride_dvb, stride_dvh), stride_kn, stride_vn,
              stride_dkn, stride_dvn, dkv1, dkv2, ds1, ds2, start, tl.minimum(start + CHUNK, N),
              N, W, pair0, quarter, D, HALF, BD, BDH, BLOCK_N, USE_ROPE, DOT_PRECISION, FAST_TRIG)


KERNEL_NAMES = ('_fwd_kernel', '_bwd_kernel', '_fwd_state_kernel', '_fwd_out_kernel',
                '_bwd_q_kernel', '_bwd_kv_kernel')


# ---------------------------------------------------------------------------------------------
# host side
# ---------------------------------------------------------------------------------------------

# How the values below and in _config were chosen: benchmarks/RESULTS.md, "Kernel defaults".
# Programs to aim for per streaming multiprocessor: the token axis is split into
# (_PROGRAMS_PER_SM * SMs) // (B * heads) chunks, so the one-pass kernels (one program per
# batch-head) run once B * heads exceeds half that many programs.
_PROGRAMS_PER_SM = 8
# A split chunk covers at least this many token blocks (shorter ones cost more in launches and
# workspace than they gain in parallelism).
_MIN_CHUNK_BLOCKS = 4
_CPU_TARGET_PROGRAMS = 4  # under the interpreter: keep the grid small


def _config(head_dim: int, dtype: torch.dtype, backward: bool) -> Tuple[int, int, int]:
    """(BLOCK_N, num_warps, num_stages): fixed per head dim, dtype and direction (no autotuning,
    nothing depends on N). Every config must compile without a stack frame (spills), which
    ``tests/support/compile_for_gpu.py`` checks; how each was chosen: benchmarks/RESULTS.md.
    """
    if dtype == torch.float32:
        if head_dim <= 32:
            return 32, 8, 2
        if head_dim <= 64:
            return (16, 8, 2) if backward else (32, 8, 2)
        return (16, 16, 1) if backward else (16, 8, 2)
    if head_dim <= 16:
        return (64, 4, 2) if backward else (64, 4, 3)
    if head_dim <= 32:
        return (32, 2, 2) if backward else (64, 4, 3)
    if head_dim <= 48:
        return (32, 8, 2) if backward else (64, 8, 2)
    if head_dim <= 64:
        return (16, 4, 2) if backward else (64, 4, 2)
    return (16, 8, 2) if backward else (32, 8, 2)


def _target_programs(device: torch.device) -> int:
    if device.type != 'cuda':
        return _CPU_TARGET_PROGRAMS
    return _PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count


def _chunking(num_tokens: int, batch_heads: int, block_n: int, device: torch.device,
              chunk_size: Optional[int] = None) -> Tuple[int, int]:
    """(CHUNK, NC): tokens per program (a multiple of BLOCK_N) and the number of chunks.

    ``NC == 1`` selects the one-pass kernels. ``chunk_size`` overrides the choice (tests use it
    to run both paths on small inputs).
    """
    if chunk_size is None:
        want_chunks = max(1, _target_programs(device) // batch_heads)
        chunk_size = max(triton.cdiv(num_tokens, want_chunks), _MIN_CHUNK_BLOCKS * block_n)
    chunk = triton.cdiv(max(1, chunk_size), block_n) * block_n
    return chunk, triton.cdiv(num_tokens, chunk)


def token_chunks(shape: Tuple[int, ...], dtype: torch.dtype, device: torch.device,
                 backward: bool, chunk_size: Optional[int] = None) -> Tuple[int, int]:
    """(CHUNK, NC) the op uses for a (B, H, N, d) input; ``NC == 1``: the one-pass kernel."""
    batch, heads, num_tokens, d = shape
    return _chunking(num_tokens, batch * heads, _config(d, dtype, backward)[0], device,
                     chunk_size)


def _last_dim_contiguous(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 else x.contiguous()


def _meta(q: torch.Tensor, hw: Optional[Tuple[int, int]], backward: bool = False):
    d = q.shape[-1]
    block_n, num_warps, num_stages = _config(d, q.dtype, backward)
    half = d // 2
    return dict(D=d, HALF=half, BD=max(16, triton.next_power_of_2(d)),
                BDH=max(16, triton.next_power_of_2(half)), BLOCK_N=block_n,
                USE_ROPE=hw is not None,
                DOT_PRECISION='ieee' if q.dtype == torch.float32 else 'tf32',
                FAST_TRIG=q.is_cuda and torch.version.hip is None,
                num_warps=num_warps, num_stages=num_stages)


def fused_linear_attention_fwd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               hw: Optional[Tuple[int, int]], eps: float,
                               chunk_size: Optional[int] = None
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward on (B, H, N, d) tensors (any strides): ``(o, KV, s)``.

    ``o`` is contiguous in the input dtype; ``KV = rope(phi(k))^T v`` (B, H, d, d) and
    ``s = sum_n phi(k)`` (B, H, d) are fp32 sums over tokens, kept for the backward.
    ``chunk_size`` overrides the tokens per program (tests use it to exercise the chunking).
    """
    q, k, v = (_last_dim_contiguous(x) for x in (q, k, v))
    batch, heads, num_tokens, d = q.shape
    meta = _meta(q, hw)
    chunk, num_chunks = token_chunks(q.shape, q.dtype, q.device, False, chunk_size)
    width = hw[1] if hw is not None else 1
    f32 = dict(device=q.device, dtype=torch.float32)
    o = torch.empty(batch, heads, num_tokens, d, device=q.device, dtype=q.dtype)
    grid = (num_chunks, batch * heads)
    if num_chunks == 1:
        kv = torch.empty(batch, heads, d, d, **f32)
        ks = torch.empty(batch, heads, d, **f32)
        _fwd_kernel[grid](q, k, v, o, kv, ks,
                          *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *o.stride()[:3],
                          num_tokens, width, heads, eps, **meta)
        return o, kv, ks
    kv_part = torch.empty(batch, heads, num_chunks, d, d, **f32)
    ks_part = torch.empty(batch, heads, num_chunks, d, **f32)
    _fwd_state_kernel[grid](k, v, kv_part, ks_part,
                            *k.stride()[:3], *v.stride()[:3],
                            num_tokens, width, chunk, heads, **meta)
    kv, ks = kv_part.sum(2), ks_part.sum(2)
    _fwd_out_kernel[grid](q, o, kv, ks,
                          *q.stride()[:3], *o.stride()[:3],
                          num_tokens, width, chunk, heads, eps, **meta)
    return o, kv, ks


def fused_linear_attention_bwd(do: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                               v: torch.Tensor, kv: torch.Tensor, ks: torch.Tensor,
                               hw: Optional[Tuple[int, int]], eps: float,
                               chunk_size: Optional[int] = None
                               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backward: ``(dq, dk, dv)``, contiguous, in the input dtype."""
    do, q, k, v = (_last_dim_contiguous(x) for x in (do, q, k, v))
    kv, ks = kv.float().contiguous(), ks.float().contiguous()
    batch, heads, num_tokens, d = q.shape
    meta = _meta(q, hw, backward=True)
    chunk, num_chunks = token_chunks(q.shape, q.dtype, q.device, True, chunk_size)
    width = hw[1] if hw is not None else 1
    dq, dk, dv = (torch.empty(batch, heads, num_tokens, d, device=q.device, dtype=q.dtype)
                  for _ in range(3))
    grid = (num_chunks, batch * heads)
    do = do.to(q.dtype)
    if num_chunks == 1:
        _bwd_kernel[grid](q, k, v, do, kv, ks, dq, dk, dv,
                          *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *do.stride()[:3],
                          *dq.stride()[:3], *dk.stride()[:3], *dv.stride()[:3],
                          num_tokens, width, heads, eps, **meta)
        return dq, dk, dv
    f32 = dict(device=q.device, dtype=torch.float32)
    dkv_part = torch.empty(batch, heads, num_chunks, d, d, **f32)
    ds_part = torch.empty(batch, heads, num_chunks, d, **f32)
    _bwd_q_kernel[grid](q, do, kv, ks, dq, dkv_part, ds_part,
                        *q.stride()[:3], *do.stride()[:3], *dq.stride()[:3],
                        num_tokens, width, chunk, heads, eps, **meta)
    dkv, ds = dkv_part.sum(2), ds_part.sum(2)
    _bwd_kv_kernel[grid](k, v, dkv, ds, dk, dv,
                         *k.stride()[:3], *v.stride()[:3], *dk.stride()[:3], *dv.stride()[:3],
                         num_tokens, width, chunk, heads, **meta)
    return dq, dk, dv
