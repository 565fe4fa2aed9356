"""Benchmark of mmsola.ops.linear_attention: the fused Triton op against the PyTorch reference.

One command on a GPU machine (prints a markdown table; ``--out`` also writes it)::

    python benchmarks/benchmark_linear_attention.py --out benchmarks/results_h100.md

Rows per shape: the Triton op, the torch backend of the op (hand-written backward), the eager
reference ``linear_attention_torch`` (autograd) and ``torch.compile`` of that reference.
Times are medians of ``triton.testing.do_bench`` (ms). "bytes" is what a fused op must move:
forward reads q, k, v and writes o (4 tensor passes); forward+backward adds reading q, k, v,
dO and writing dq, dk, dv (11 passes in all). GB/s = bytes / time, and "% copy" compares it
with a large device-to-device copy measured in the same run.

On CPU (``--device cpu``, tiny shapes, torch paths only, wall-clock medians) it checks that
the script runs::

    python benchmarks/benchmark_linear_attention.py --device cpu --shapes 1,2,49,32
"""
import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

from mmsola.ops import linear_attention, linear_attention_torch

GPU_SHAPES = [((128, 2, 3136, 32), 'bf16'), ((64, 4, 784, 32), 'bf16'),
              ((16, 8, 196, 32), 'bf16'), ((2, 8, 32768, 64), 'bf16'),
              ((128, 2, 3136, 32), 'fp32')]
CPU_SHAPES = [((1, 2, 49, 32), 'fp32')]
DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}


def grid_of(num_tokens: int) -> Tuple[int, int]:
    """The most square (h, w) grid with h * w == N (RoPE needs one)."""
    h = int(math.isqrt(num_tokens))
    while num_tokens % h:
        h -= 1
    return h, num_tokens // h


def bench(fn: Callable[[], object], device: str, reps: int,
          grad_to_none: Optional[List[torch.Tensor]] = None) -> float:
    """Median milliseconds of ``fn``."""
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
    """GB/s of a large device-to-device copy (read + write)."""
    numel = (1 << 28) if device == 'cuda' else (1 << 22)
    src = torch.empty(numel, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src), device, reps)
    return 2 * src.numel() * src.element_size() / ms / 1e6


def work_split(shape: Tuple[int, ...], dtype: torch.dtype) -> str:
    """How the fused op splits this shape over programs, forward and backward."""
    from mmsola.ops.linear_attention import fused
    parts = []
    for name, backward in (('fwd', False), ('bwd', True)):
        chunks = fused.token_chunks(shape, dtype, torch.device('cuda'), backward)[1]
        parts.append(f'{name}: ' + ('one pass' if chunks == 1 else f'{chunks} chunks'))
    return ', '.join(parts)


def run_shape(shape, dtype_name, device, reps, use_compile) -> List[Dict]:
    dtype = DTYPES[dtype_name]
    hw = grid_of(shape[2])
    gen = torch.Generator(device='cpu').manual_seed(0)
    q, k, v, do = (torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
                   for _ in range(4))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    fns = {}
    if device == 'cuda':
        fns[f'triton op ({work_split(shape, dtype)})'] = (
            lambda a, b, c: linear_attention(a, b, c, hw=hw, backend='triton'))
    fns['torch op'] = lambda a, b, c: linear_attention(a, b, c, hw=hw, backend='torch')
    fns['eager reference'] = lambda a, b, c: linear_attention_torch(a, b, c, hw=hw)
    if use_compile:
        compiled = torch.compile(linear_attention_torch)
        fns['compiled reference'] = lambda a, b, c: compiled(a, b, c, hw=hw)

    elem = q.element_size()
    tensor_bytes = q.numel() * elem
    rows = []
    for name, fn in fns.items():
        with torch.no_grad():
            fwd_ms = bench(lambda: fn(q, k, v), device, reps)

        def fwd_bwd():
            fn(*leaves).backward(do)

        fwd_bwd_ms = bench(fwd_bwd, device, reps, grad_to_none=leaves)
        rows.append(dict(shape=shape, dtype=dtype_name, impl=name, fwd_ms=fwd_ms,
                         fwd_bwd_ms=fwd_bwd_ms, fwd_bytes=4 * tensor_bytes,
                         fwd_bwd_bytes=11 * tensor_bytes))
    return rows


def markdown(rows: List[Dict], copy_gbs: float, device_name: str) -> str:
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


def parse_shape(text: str) -> Tuple[int, ...]:
    shape = tuple(int(x) for x in text.split(','))
    if len(shape) != 4:
        raise argparse.ArgumentTypeError(f'shape must be B,H,N,d, got {text!r}')
    return shape


def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--shapes', nargs='+', type=parse_shape,
                        help='B,H,N,d shapes (default: the standard set for the device)')
    parser.add_argument('--dtype', default=None, choices=sorted(DTYPES),
                        help='dtype for --shapes (default bf16 on cuda, fp32 on cpu)')
    parser.add_argument('--no-compile', action='store_true',
                        help='skip torch.compile of the reference (default on cpu)')
    parser.add_argument('--reps', type=int, default=10, help='repetitions on cpu')
    parser.add_argument('--out', type=Path, help='also write the markdown table here')
    parser.add_argument('--programs-per-sm', type=int,
                        help='override the fused op\'s _PROGRAMS_PER_SM (the tokens are '
                        'split into PROGRAMS_PER_SM * SMs // (B * heads) chunks; one chunk: '
                        'one program per batch-head): for tuning')
    args = parser.parse_args(argv)
    if args.programs_per_sm:
        from mmsola.ops.linear_attention import fused
        fused._PROGRAMS_PER_SM = args.programs_per_sm

    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('no CUDA device; use --device cpu for a smoke run')
    if args.shapes:
        dtype = args.dtype or ('bf16' if args.device == 'cuda' else 'fp32')
        cases = [(s, dtype) for s in args.shapes]
    else:
        cases = GPU_SHAPES if args.device == 'cuda' else CPU_SHAPES
    use_compile = args.device == 'cuda' and not args.no_compile

    copy_gbs = copy_bandwidth(args.device, args.reps)
    rows = []
    for shape, dtype_name in cases:
        rows += run_shape(shape, dtype_name, args.device, args.reps, use_compile)
    device_name = (torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu')
    table = markdown(rows, copy_gbs, device_name)
    print(table)
    if args.out:
        args.out.write_text(table + '\n')
    return table


if __name__ == '__main__':
    main()
