"""The engine of ``benchmarks/benchmark_linear_attention.py`` and
``benchmarks/tune_linear_attention.py``: timing the op's paths on one shape and the markdown
table of the results.

Rows per shape (:func:`run_shape`): the Triton op (CUDA only), the torch backend of the op
(hand-written backward), the eager reference ``linear_attention_torch`` (autograd) and, with
``use_compile``, ``torch.compile`` of that reference. Times (:func:`bench`) are medians in ms:
of ``triton.testing.do_bench`` on CUDA, of wall-clock runs on the CPU. "bytes" is what a
fused op must move: forward reads q, k, v and writes o (4 tensor passes); forward+backward
adds reading q, k, v, dO and writing dq, dk, dv (11 passes in all). :func:`markdown` turns
bytes / time into GB/s and compares it with a large device-to-device copy
(:func:`copy_bandwidth`).

Not imported by ``import mmsola.ops``; triton is imported only when a CUDA timing runs.
(:func:`mmsola.analysis.timing.time_callable` times in seconds, without ``do_bench`` or the
clearing of gradients between runs, so the benchmark keeps its own :func:`bench`.)
"""
import math
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .interface import linear_attention
from .naive import linear_attention_torch

Shape = Tuple[int, int, int, int]  # (B, heads, N, d)

GPU_SHAPES = [((128, 2, 3136, 32), 'bf16'), ((64, 4, 784, 32), 'bf16'),
              ((16, 8, 196, 32), 'bf16'), ((2, 8, 32768, 64), 'bf16'),
              ((128, 2, 3136, 32), 'fp32')]
CPU_SHAPES = [((1, 2, 49, 32), 'fp32')]
DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}
FWD_PASSES, FWD_BWD_PASSES = 4, 11  # tensor passes a fused op must make (module docstring)


def grid_of(num_tokens: int) -> Tuple[int, int]:
    """The most square (h, w) grid with h * w == N (RoPE needs one)."""
    h = int(math.isqrt(num_tokens))
    while num_tokens % h:
        h -= 1
    return h, num_tokens // h


def bench(fn: Callable[[], object], device: str, reps: int,
          grad_to_none: Optional[List[torch.Tensor]] = None) -> float:
    """Median milliseconds of ``fn``: ``do_bench`` on CUDA (``reps`` unused), else one
    warm-up and ``reps`` wall-clock runs (the grads of ``grad_to_none`` cleared before each)."""
    if device == 'cuda':
        from triton.testing import do_bench
        return do_bench(fn, grad_to_none=grad_to_none, return_mode='median')
    times = []
    fn()
    for _ in range(reps):
        if grad_to_none:
            for x in grad_to_none:
                x.grad = None
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def copy_bandwidth(device: str, reps: int) -> float:
    """GB/s of a large device-to-device copy (read + write): 1 GiB of fp32 on CUDA, 16 MiB on
    the CPU."""
    numel = (1 << 28) if device == 'cuda' else (1 << 22)
    src = torch.empty(numel, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src), device, reps)
    return 2 * src.numel() * src.element_size() / ms / 1e6


def work_split(shape: Shape, dtype: torch.dtype) -> str:
    """How the fused op splits this shape over programs, forward and backward, e.g.
    ``'fwd: one pass, bwd: 16 chunks'``."""
    from . import fused
    parts = []
    for name, backward in (('fwd', False), ('bwd', True)):
        chunks = fused.token_chunks(shape, dtype, torch.device('cuda'), backward)[1]
        parts.append(f'{name}: ' + ('one pass' if chunks == 1 else f'{chunks} chunks'))
    return ', '.join(parts)


def _implementations(shape: Shape, dtype: torch.dtype, device: str,
                     use_compile: bool) -> Dict[str, Callable]:
    """``{row name: fn(q, k, v) -> o}`` of the paths timed on ``device``."""
    hw = grid_of(shape[2])
    fns = {}
    if device == 'cuda':
        fns[f'triton op ({work_split(shape, dtype)})'] = (
            lambda a, b, c: linear_attention(a, b, c, hw=hw, backend='triton'))
    fns['torch op'] = lambda a, b, c: linear_attention(a, b, c, hw=hw, backend='torch')
    fns['eager reference'] = lambda a, b, c: linear_attention_torch(a, b, c, hw=hw)
    if use_compile:
        compiled = torch.compile(linear_attention_torch)
        fns['compiled reference'] = lambda a, b, c: compiled(a, b, c, hw=hw)
    return fns


def run_shape(shape: Shape, dtype_name: str, device: str, reps: int,
              use_compile: bool) -> List[Dict]:
    """One row per implementation: ``shape``, ``dtype``, ``impl``, ``fwd_ms``, ``fwd_bwd_ms``,
    ``fwd_bytes``, ``fwd_bwd_bytes``, timed on seeded random (q, k, v, dO) of ``shape``."""
    dtype = DTYPES[dtype_name]
    gen = torch.Generator(device='cpu').manual_seed(0)
    q, k, v, do = (torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
                   for _ in range(4))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    tensor_bytes = q.numel() * q.element_size()
    rows = []
    for name, fn in _implementations(shape, dtype, device, use_compile).items():
        with torch.no_grad():
            fwd_ms = bench(lambda: fn(q, k, v), device, reps)

        def fwd_bwd():
            fn(*leaves).backward(do)

        fwd_bwd_ms = bench(fwd_bwd, device, reps, grad_to_none=leaves)
        rows.append(dict(shape=shape, dtype=dtype_name, impl=name, fwd_ms=fwd_ms,
                         fwd_bwd_ms=fwd_bwd_ms, fwd_bytes=FWD_PASSES * tensor_bytes,
                         fwd_bwd_bytes=FWD_BWD_PASSES * tensor_bytes))
    return rows


def run_benchmark(cases: Sequence[Tuple[Shape, str]], device: str, reps: int,
                  use_compile: bool) -> str:
    """Every (shape, dtype name) of ``cases`` through :func:`run_shape`; the markdown table."""
    copy_gbs = copy_bandwidth(device, reps)
    rows = []
    for shape, dtype_name in cases:
        rows += run_shape(shape, dtype_name, device, reps, use_compile)
    device_name = torch.cuda.get_device_name() if device == 'cuda' else 'cpu'
    return markdown(rows, copy_gbs, device_name)


def markdown(rows: List[Dict], copy_gbs: float, device_name: str) -> str:
    """The rows of :func:`run_shape` as a markdown table (GB/s, % of the copy bandwidth, and
    time relative to the first row of the same shape)."""
    lines = [f'Device: {device_name}; device-to-device copy: {copy_gbs:.0f} GB/s', '',
             '| (B, H, N, d) | dtype | impl | fwd ms | fwd GB/s | fwd % copy | fwd+bwd ms | '
             'fwd+bwd GB/s | fwd+bwd % copy | fwd+bwd time / first row |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        fwd_gbs = row['fwd_bytes'] / row['fwd_ms'] / 1e6
        all_gbs = row['fwd_bwd_bytes'] / row['fwd_bwd_ms'] / 1e6
        base = next((r for r in rows if r['shape'] == row['shape']
                     and r['dtype'] == row['dtype']), row)
        speedup = row['fwd_bwd_ms'] / base['fwd_bwd_ms']
        lines.append(f"| {row['shape']} | {row['dtype']} | {row['impl']} | "
                     f"{row['fwd_ms']:.4f} | {fwd_gbs:.3g} | {100 * fwd_gbs / copy_gbs:.3g}% | "
                     f"{row['fwd_bwd_ms']:.4f} | {all_gbs:.3g} | "
                     f"{100 * all_gbs / copy_gbs:.3g}% | {speedup:.2f}x |")
    lines += ['', 'bytes: the minimum a fused op moves (fwd: 4 tensor passes, fwd+bwd: 11). '
              'Last column: time of this row / time of the first row of its shape (on GPU the '
              'Triton op, so it reads as the Triton op\'s speed-up over that row).']
    return '\n'.join(lines)
