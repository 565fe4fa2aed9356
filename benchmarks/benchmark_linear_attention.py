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
from pathlib import Path
from typing import List, Optional, Tuple

import torch

from mmsola.ops.linear_attention.kernel_speed import (
    CPU_SHAPES,
    DTYPES,
    GPU_SHAPES,
    run_benchmark,
)


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

    table = run_benchmark(cases, args.device, args.reps, use_compile)
    print(table)
    if args.out:
        args.out.write_text(table + '\n')
    return table


if __name__ == '__main__':
    main()
