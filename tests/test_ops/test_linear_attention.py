"""Correctness of mmsola.ops.linear_attention: both backends against a float64 reference.

On CPU the Triton kernels run in the Triton interpreter (see conftest.py): small shapes only.
"""
import pytest
import torch
import torch.nn.functional as F

from mmsola.ops import linear_attention, linear_attention_torch
from mmsola.ops.linear_attention import fused
from mmsola.ops.linear_attention.torch_backend import (
    linear_attention_torch_bwd,
    linear_attention_torch_fwd,
)
from tests.support.rope_reference import rope_reference

TOL = {torch.float32: 1e-4, torch.bfloat16: 1e-2, torch.float16: 1e-2, torch.float64: 1e-10}


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return ((a.double() - ref).norm() / ref.norm()).item()


def make_inputs(shape, dtype, device, seed=0, scale=1.5):
    gen = torch.Generator().manual_seed(seed)
    q, k, v, do = (torch.randn(shape, generator=gen) * scale for _ in range(4))
    return [x.to(device=device, dtype=dtype) for x in (q, k, v, do)]


def reference(q, k, v, do, hw, eps=1e-6):
    """Output and input gradients of the float64 reference (autograd)."""
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    out = linear_attention_torch(q64, k64, v64, hw=hw, eps=eps)
    out.backward(do.double())
    return out.detach(), q64.grad, k64.grad, v64.grad


def assert_close_to_reference(got, ref, dtype, what=''):
    names = ('out', 'dq', 'dk', 'dv')
    for name, a, b in zip(names, got, ref):
        assert a.shape == b.shape, f'{what} {name}: shape {a.shape} != {b.shape}'
        assert torch.isfinite(a).all(), f'{what} {name}: non-finite values'
        err = rel_err(a.cpu(), b.cpu())
        assert err < TOL[dtype], f'{what} {name}: relative error {err:.2e} >= {TOL[dtype]}'


def test_reference_is_the_formula_with_the_specified_rope():
    """The float64 reference the tests compare with, against the op's formula written out with
    the RoPE written out token by token (tests/support/rope_reference.py); 3 heads: the middle one
    turns with both axes."""
    q, k, v, _ = make_inputs((2, 3, 35, 16), torch.float64, 'cpu')
    qf, kf = F.elu(q) + 1, F.elu(k) + 1
    z = 1 / (qf @ kf.mean(dim=2).unsqueeze(-1) + 1e-6)
    kv = rope_reference(kf, (5, 7)).transpose(-2, -1) @ v / 35
    expected = rope_reference(qf, (5, 7)) @ kv * z
    assert rel_err(linear_attention_torch(q, k, v, hw=(5, 7)), expected) < 1e-13
    assert rel_err(linear_attention_torch(q, k, v, hw=(7, 5)), expected) > 1e-3  # the grid


# (B, H, N, d, hw, dtype, chunk_size): odd N, flat and non-square grids, no RoPE, padded head
# dims (48, 96); 1 to 4 heads (3: a head that turns with both axes). chunk_size None: the
# one-pass kernels; a chunk size below N: the split kernels, with several chunks per
# (batch, head) to add up.
TRITON_CASES = [
    (1, 2, 49, 16, (7, 7), torch.float32, None),
    (1, 2, 197, 32, (1, 197), torch.float32, 64),
    (2, 1, 197, 48, (197, 1), torch.float32, None),
    (1, 2, 197, 48, None, torch.float32, 32),
    (1, 2, 197, 48, None, torch.float32, None),
    (1, 1, 36, 96, (6, 6), torch.float32, None),
    (1, 1, 16, 128, (4, 4), torch.float32, None),
    (1, 2, 196, 32, (14, 14), torch.bfloat16, 64),
    (1, 1, 64, 64, (8, 8), torch.bfloat16, None),
    (1, 2, 49, 32, (7, 7), torch.float16, None),
    (1, 3, 35, 16, (5, 7), torch.float32, None),
    (2, 3, 63, 48, (9, 7), torch.float32, 16),
    (1, 4, 45, 16, (5, 9), torch.bfloat16, None),
    (2, 2, 35, 16, (7, 5), torch.float32, None),
    (1, 3, 63, 32, (7, 9), torch.float32, 16),
]


@pytest.mark.parametrize('case', TRITON_CASES, ids=str)
def test_triton_kernels_match_float64(case, triton_device):
    B, H, N, d, hw, dtype, chunk = case
    if chunk is not None:  # the case is meant for the split kernels: several chunks
        assert all(fused.token_chunks((B, H, N, d), dtype, torch.device(triton_device),
                                      backward, chunk)[1] > 1 for backward in (False, True))
    chunk = chunk or N
    q, k, v, do = make_inputs((B, H, N, d), dtype, triton_device)
    o, kv, ks = fused.fused_linear_attention_fwd(q, k, v, hw, 1e-6, chunk_size=chunk)
    grads = fused.fused_linear_attention_bwd(do, q, k, v, kv, ks, hw, 1e-6, chunk_size=chunk)
    assert o.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert_close_to_reference((o, *grads), reference(q, k, v, do, hw), dtype,
                              f'triton d={d} hw={hw} {dtype}')


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_public_function_gradients(backend, device, request):
    """Through the public function and autograd (the custom op's registered backward)."""
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    q, k, v, do = make_inputs((2, 3, 45, 32), torch.float32, device)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    out = linear_attention(*leaves, hw=(9, 5), backend=backend)
    out.backward(do)
    assert_close_to_reference((out.detach(), *(x.grad for x in leaves)),
                              reference(q, k, v, do, (9, 5)), torch.float32, backend)


@pytest.mark.parametrize('N,hw,dtype', [(3137, (1, 3137), torch.float32),
                                        (3136, (56, 56), torch.bfloat16),
                                        (3136, None, torch.float32)])
def test_torch_backend_large_n(N, hw, dtype):
    q, k, v, do = make_inputs((1, 2, N, 32), dtype, 'cpu')
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    out = linear_attention(*leaves, hw=hw, backend='torch')
    out.backward(do)
    assert out.dtype == dtype
    assert_close_to_reference((out.detach(), *(x.grad for x in leaves)),
                              reference(q, k, v, do, hw), dtype, f'torch N={N}')


def test_hand_written_backward_is_exact_in_float64():
    """The torch fwd/bwd pair equals autograd of the reference to float64 round-off."""
    q, k, v, do = make_inputs((2, 3, 35, 24), torch.float64, 'cpu')
    o, kv, ks = linear_attention_torch_fwd(q, k, v, (5, 7), 1e-6)
    grads = linear_attention_torch_bwd(do, q, k, v, kv, ks, (5, 7), 1e-6)
    assert_close_to_reference((o, *grads), reference(q, k, v, do, (5, 7)), torch.float64)


def large_fp16(shape, low, high, seed):
    gen = torch.Generator().manual_seed(seed)
    magnitude = 10 ** (torch.rand(shape, generator=gen) * (high - low) + low)
    sign = torch.randint(0, 2, shape, generator=gen) * 2 - 1
    return (magnitude * sign).half()


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_fp16_large_magnitudes_stay_finite(backend, device, request):
    """|q|, |k| up to 6e4 (ELU's exp and the d x d state would overflow in fp16)."""
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    shape = (1, 2, 49, 32)
    q, k = large_fp16(shape, 3, 4.78, 1), large_fp16(shape, 3, 4.78, 2)
    v = large_fp16(shape, 2, 3, 3)
    do = torch.randn(shape, generator=torch.Generator().manual_seed(4)).half()
    ref = reference(q, k, v, do, (7, 7))
    assert all(torch.isfinite(r).all() and r.abs().max() < 6e4 for r in ref)
    q, k, v, do = (x.to(device) for x in (q, k, v, do))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    out = linear_attention(*leaves, hw=(7, 7), backend=backend)
    out.backward(do)
    assert_close_to_reference((out.detach(), *(x.grad for x in leaves)), ref, torch.float16,
                              f'{backend} fp16 large')


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_non_contiguous_inputs(backend, device, request):
    """q, k, v as slices of one (B, N, 3, H, d) qkv tensor, transposed to (B, H, N, d)."""
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    B, N, H, d = 2, 49, 2, 32
    gen = torch.Generator().manual_seed(0)
    qkv = torch.randn(B, N, 3, H, d, generator=gen).to(device).requires_grad_()
    q, k, v = (x.transpose(1, 2) for x in qkv.unbind(2))
    assert not q.is_contiguous()
    out = linear_attention(q, k, v, hw=(7, 7), backend=backend)
    do = torch.randn(B, N, H, d, generator=gen).to(device).transpose(1, 2)  # strided dO too
    out.backward(do)
    q0, k0, v0 = (x.detach().contiguous() for x in (q, k, v))
    ref = reference(q0, k0, v0, do.contiguous(), (7, 7))
    grad = qkv.grad.unbind(2)
    assert_close_to_reference((out.detach(), *(g.transpose(1, 2) for g in grad)), ref,
                              torch.float32, f'{backend} strided')


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_autocast_computes_in_autocast_dtype(backend, device, request):
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    q, k, v, do = make_inputs((1, 2, 49, 32), torch.float32, device)
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        out = linear_attention(q, k, v, hw=(7, 7), backend=backend)
    assert out.dtype == torch.bfloat16
    q16, k16, v16 = (x.bfloat16() for x in (q, k, v))
    ref = linear_attention_torch(q16.double(), k16.double(), v16.double(), hw=(7, 7))
    assert rel_err(out.cpu(), ref.cpu()) < 1e-2


def test_triton_and_torch_backends_agree(triton_device):
    q, k, v, _ = make_inputs((2, 2, 64, 32), torch.bfloat16, triton_device)
    a = linear_attention(q, k, v, hw=(8, 8), backend='triton')
    b = linear_attention(q, k, v, hw=(8, 8), backend='torch')
    assert rel_err(a.cpu(), b.cpu().double()) < 1e-2


def test_torch_backend_keeps_float64():
    q, k, v, _ = make_inputs((1, 1, 20, 8), torch.float64, 'cpu')
    out = linear_attention(q, k, v, hw=(4, 5), backend='torch')
    assert out.dtype == torch.float64
    assert rel_err(out, linear_attention_torch(q, k, v, hw=(4, 5))) < 1e-12


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_backward_keeps_only_the_inputs_and_the_state(backend, device, request):
    """What autograd saves for the backward: q, k, v and the small (d x d) state, so the
    torch fallback trains in about the memory of the inputs (the reference keeps ~5 fp32
    (B, H, N, d) tensors more)."""
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    q, k, v, _ = make_inputs((2, 2, 64, 32), torch.bfloat16, device)
    leaves = [x.requires_grad_() for x in (q, k, v)]
    saved = {}

    def pack(t):
        saved[(t.untyped_storage().data_ptr(), t.storage_offset(), t.shape)] = t.nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        linear_attention(*leaves, hw=(8, 8), backend=backend)
    input_bytes = 3 * q.nbytes
    state_bytes = 2 * 2 * (32 * 32 + 32) * 4
    assert sum(saved.values()) <= input_bytes + state_bytes


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
@pytest.mark.parametrize('shape,dtype', [((2, 8, 4096, 64), torch.bfloat16),
                                         ((8, 2, 3136, 32), torch.bfloat16),
                                         ((2, 4, 3137, 96), torch.float32),
                                         ((2, 2, 3136, 48), torch.float16),
                                         ((96, 4, 784, 32), torch.bfloat16)])
def test_triton_on_gpu_large(shape, dtype):
    """The split kernels (few batch-heads) and, for (96, 4, 784, 32), the one-pass ones."""
    side = int(shape[2]**0.5)
    hw = (side, side) if side * side == shape[2] else (1, shape[2])
    q, k, v, do = make_inputs(shape, dtype, 'cuda')
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    out = linear_attention(*leaves, hw=hw, backend='triton')
    out.backward(do)
    ref = reference(q, k, v, do, hw)
    assert_close_to_reference((out.detach(), *(x.grad for x in leaves)), ref, dtype, 'gpu')


@pytest.mark.cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs two CUDA GPUs')
def test_triton_on_second_gpu():
    """The kernels launch on the inputs' device, whatever the current device is."""
    q, k, v, do = make_inputs((1, 2, 49, 32), torch.float32, 'cuda:1')
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    with torch.cuda.device(0):
        out = linear_attention(*leaves, hw=(7, 7), backend='triton')
        out.backward(do)
    assert out.device == torch.device('cuda:1')
    assert_close_to_reference((out.detach(), *(x.grad for x in leaves)),
                              reference(q, k, v, do, (7, 7)), torch.float32, 'cuda:1')
