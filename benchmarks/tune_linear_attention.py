"""Tuning sweep of the fused linear-attention kernels on a GPU (issue 12), one command::

    python benchmarks/tune_linear_attention.py --out work_dirs/tune.csv

For each shape it times the fused forward and backward functions directly (no autograd), as
the median of ``triton.testing.do_bench`` and of ``do_bench_cudagraph`` (graph replays: the
GPU time without the host's launch cost), for every candidate ``(BLOCK_N, num_warps,
num_stages)`` of ``fused._config`` and every ``fused._PROGRAMS_PER_SM``, and reports GB/s
against a device-to-device copy measured in the same run. ``--profile`` adds a torch.profiler
table of autograd forward+backward per shape and a cProfile of the host side (where the host
time goes); ``--once`` only runs each shape's forward and backward once with the defaults (for
``ncu``).
"""
import argparse
import csv
import functools
import itertools
import sys
import time
from pathlib import Path

import torch
from triton.testing import do_bench, do_bench_cudagraph

from mmsola.ops import linear_attention
from mmsola.ops.linear_attention import fused
from mmsola.ops.linear_attention.kernel_speed import copy_bandwidth, grid_of

SHAPES = [(128, 2, 3136, 32), (2, 8, 32768, 64)]
CANDIDATES = {  # (head dim, backward) -> (BLOCK_N, num_warps, num_stages) for bf16
    (32, False): [(64, 4, 3), (64, 4, 2), (128, 4, 3), (128, 8, 3), (32, 4, 3), (64, 8, 3),
                  (128, 4, 4), (256, 8, 3)],
    (32, True): [(64, 4, 2), (32, 4, 2), (64, 8, 2), (32, 8, 2), (128, 8, 2), (64, 4, 3),
                 (32, 2, 2), (16, 4, 2)],
    (64, False): [(64, 8, 2), (64, 4, 2), (64, 4, 3), (128, 8, 2), (32, 4, 3), (128, 8, 3),
                  (32, 8, 2)],
    (64, True): [(32, 8, 2), (32, 4, 2), (64, 8, 2), (16, 4, 2), (32, 8, 3), (64, 8, 3),
                 (16, 8, 2)],
}
PROGRAMS_PER_SM = [2, 4, 8, 16]


def make_inputs(shape, dtype=torch.bfloat16):
    """Seeded random (q, k, v, dO) of ``shape`` on the GPU."""
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(shape, generator=gen).to('cuda', dtype) for _ in range(4))


def autograd_step(shape):
    """A closure running one autograd forward+backward through ``linear_attention``."""
    q, k, v, do = make_inputs(shape)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    hw = grid_of(shape[2])

    def step():
        for x in leaves:
            x.grad = None
        linear_attention(*leaves, hw=hw, backend='triton').backward(do)

    return step


def time_both(fn):
    return (do_bench(fn, return_mode='median'),
            do_bench_cudagraph(fn, return_mode='median'))


def sweep(shape, copy, rows, programs_per_sm, dtype=torch.bfloat16):
    q, k, v, do = make_inputs(shape, dtype)
    hw = grid_of(shape[2])
    tensor_bytes = q.numel() * q.element_size()
    default_config, default_programs = fused._config, fused._PROGRAMS_PER_SM
    ref = None
    for backward in (False, True):
        passes = 7 if backward else 4
        for cfg, ppsm in itertools.product(CANDIDATES[(shape[3], backward)], programs_per_sm):
            fused._PROGRAMS_PER_SM = ppsm
            fused._config = (lambda d, dt, bwd, cfg=cfg, backward=backward:
                             cfg if bwd == backward else default_config(d, dt, bwd))
            chunks = fused.token_chunks(shape, dtype, q.device, backward)[1]
            try:
                o, kv, ks = fused.fused_linear_attention_fwd(q, k, v, hw, 1e-6)
                if backward:
                    out = fused.fused_linear_attention_bwd(do, q, k, v, kv, ks, hw, 1e-6)
                    fn = functools.partial(fused.fused_linear_attention_bwd,
                                           do, q, k, v, kv, ks, hw, 1e-6)
                else:
                    out = (o, )
                    fn = functools.partial(fused.fused_linear_attention_fwd, q, k, v, hw, 1e-6)
                torch.cuda.synchronize()
                if ref is None or ref[0] != backward:
                    ref = (backward, [x.float() for x in out])
                err = max(((a.float() - b).norm() / b.norm()).item()
                          for a, b in zip(out, ref[1]))
                ms, graph_ms = time_both(fn)
            except Exception as e:  # a config that does not compile (shared memory, ...)
                print(f'{shape} bwd={backward} {cfg} ppsm={ppsm}: {type(e).__name__} {e}'[:300])
                continue
            finally:
                fused._config = default_config
            row = dict(shape='x'.join(map(str, shape)), direction='bwd' if backward else 'fwd',
                       block_n=cfg[0], warps=cfg[1], stages=cfg[2], programs_per_sm=ppsm,
                       chunks=chunks, ms=round(ms, 4), graph_ms=round(graph_ms, 4),
                       pct_copy=round(100 * passes * tensor_bytes / graph_ms / 1e6 / copy, 1),
                       rel_err_vs_first=f'{err:.1e}')
            rows.append(row)
            print(row, flush=True)
    fused._PROGRAMS_PER_SM = default_programs


def profile(shape):
    from torch.profiler import ProfilerActivity, profile as torch_profile
    step = autograd_step(shape)
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step()
        torch.cuda.synchronize()
    print(f'--- profile {shape} (5 autograd fwd+bwd)')
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=14))
    print(prof.key_averages().table(sort_by='self_device_time_total', row_limit=8))
    start = time.perf_counter()
    for _ in range(20):
        step()
    torch.cuda.synchronize()
    print(f'wall per autograd fwd+bwd: {(time.perf_counter() - start) / 20 * 1e3:.3f} ms')


def host_profile(shape=(16, 8, 196, 32), calls=200):
    """cProfile of ``calls`` autograd forward+backward calls on a small shape (host-bound)."""
    import cProfile
    import pstats
    step = autograd_step(shape)
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        step()
    torch.cuda.synchronize()
    prof.disable()
    print(f'--- cProfile of {calls} autograd fwd+bwd {shape}')
    pstats.Stats(prof).sort_stats('tottime').print_stats(25)


def run_once(shapes):
    for shape in shapes:
        q, k, v, do = make_inputs(shape)
        hw = grid_of(shape[2])
        o, kv, ks = fused.fused_linear_attention_fwd(q, k, v, hw, 1e-6)
        fused.fused_linear_attention_bwd(do, q, k, v, kv, ks, hw, 1e-6)
    torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path)
    p.add_argument('--profile', action='store_true')
    p.add_argument('--once', action='store_true')
    p.add_argument('--programs-per-sm', type=int, nargs='+', default=PROGRAMS_PER_SM)
    p.add_argument('--shapes', nargs='+', default=['x'.join(map(str, s)) for s in SHAPES])
    args = p.parse_args()
    shapes = [tuple(int(x) for x in s.split('x')) for s in args.shapes]
    if args.once:
        return run_once(shapes)
    if args.profile:
        for shape in shapes + [(16, 8, 196, 32)]:
            profile(shape)
        host_profile()
    copy = copy_bandwidth('cuda', reps=0)  # reps: CPU only; on CUDA do_bench's median
    print(f'copy {copy:.0f} GB/s', flush=True)
    rows = []
    for shape in shapes:
        sweep(shape, copy, rows, args.programs_per_sm)
    if not rows or not args.out:
        return
    with args.out.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for shape in {r['shape'] for r in rows}:
        for direction in ('fwd', 'bwd'):
            best = sorted((r for r in rows if r['shape'] == shape and r['direction'] == direction),
                          key=lambda r: r['graph_ms'])[:3]
            print('BEST', shape, direction, best)


if __name__ == '__main__':
    sys.exit(main())
