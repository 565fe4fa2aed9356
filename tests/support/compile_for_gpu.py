"""Compile the fused kernels ahead of time for a CUDA target, without a GPU.

Run in a process where TRITON_INTERPRET is not set (the kernels must be real JITFunctions)::

    python tests/support/compile_for_gpu.py --arch 90 --head-dims 32 --dtypes bf16

For every kernel launched by the forward and backward it builds the launch's signature with
Triton's own binder, compiles it through the full pipeline (TTIR -> PTX -> cubin with the
ptxas shipped in the triton wheel, the CUDA code path: FAST_TRIG on) and prints one line
``<kernel> d=<d> <dtype> warps=<n> regs=<r> stack=<bytes>`` from ``cuobjdump -res-usage``.
"""
import argparse
import os
import re
import subprocess
import tempfile

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime.jit import JITFunction, create_function_from_signature

from mmsola.ops.linear_attention import fused

KERNELS = fused.KERNEL_NAMES
DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}


def launches_of(head_dim, dtype, hw):
    """(kernel, args, kwargs) of every launch of one forward + backward (nothing runs)."""
    launches = []

    class Record:

        def __init__(self, kernel):
            self.kernel = kernel

        def __getitem__(self, grid):
            return lambda *args, **kwargs: launches.append((self.kernel, args, kwargs))

    saved = {name: getattr(fused, name) for name in KERNELS}
    meta = fused._meta
    try:
        for name in KERNELS:
            setattr(fused, name, Record(saved[name]))
        fused._meta = lambda *a, **kw: {**meta(*a, **kw), 'FAST_TRIG': True}  # the CUDA path
        num_tokens = hw[0] * hw[1]
        q = torch.zeros(1, 2, num_tokens, head_dim, dtype=dtype)
        kv, ks = torch.zeros(1, 2, head_dim, head_dim), torch.zeros(1, 2, head_dim)
        for chunk_size in (num_tokens, 16):  # the one-pass kernels, then the split ones
            fused.fused_linear_attention_fwd(q, q, q, hw, 1e-6, chunk_size=chunk_size)
            fused.fused_linear_attention_bwd(q, q, q, q, kv, ks, hw, 1e-6, chunk_size=chunk_size)
    finally:
        fused._meta = meta
        for name, kernel in saved.items():
            setattr(fused, name, kernel)
    return launches


def compile_launch(kernel, args, kwargs, target):
    backend = make_backend(target)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*args, **kwargs)
    options, signature, constexprs, attrs = kernel._pack_args(backend, kwargs, bound,
                                                              specialization, options)
    return triton.compile(ASTSource(kernel, signature, constexprs, attrs), target=target,
                          options=options.__dict__)


def resource_usage(cubin: bytes):
    tool = os.path.join(os.path.dirname(triton.__file__), 'backends', 'nvidia', 'bin',
                        'cuobjdump')
    with tempfile.NamedTemporaryFile(suffix='.cubin') as f:
        f.write(cubin)
        f.flush()
        out = subprocess.run([tool, '-res-usage', f.name], capture_output=True, text=True,
                             check=True).stdout
    regs, stack = re.search(r'REG:(\d+) STACK:(\d+)', out).groups()
    return int(regs), int(stack)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--arch', type=int, default=90)
    parser.add_argument('--head-dims', type=int, nargs='+', default=[32])
    parser.add_argument('--dtypes', nargs='+', default=['bf16'], choices=sorted(DTYPES))
    args = parser.parse_args()
    assert all(isinstance(getattr(fused, n), JITFunction) for n in KERNELS), \
        'unset TRITON_INTERPRET: the kernels are interpreted'
    target = GPUTarget('cuda', args.arch, 32)
    for d in args.head_dims:
        for dtype in args.dtypes:
            for kernel, a, kw in launches_of(d, DTYPES[dtype], (16, 16)):
                compiled = compile_launch(kernel, a, kw, target)
                regs, stack = resource_usage(compiled.asm['cubin'])
                print(f'{kernel.__name__} d={d} {dtype} warps={compiled.metadata.num_warps} '
                      f'regs={regs} stack={stack} '
                      f"approx_trig={'sin.approx.f32' in compiled.asm['ptx']}", flush=True)


if __name__ == '__main__':
    main()
