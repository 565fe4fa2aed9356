"""Behaviour of mmsola.ops.linear_attention around the math: argument errors, backend choice
(environment variable, one-time log), torch.compile, the custom op, recompilation, FLOPs."""
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mmsola.ops import (
    BACKEND_ENV_VAR,
    LINEAR_ATTENTION_OP_NAME,
    linear_attention,
    linear_attention_flop_handle,
    linear_attention_flops,
    linear_attention_torch,
)
from mmsola.ops.linear_attention import fused, interface, op


def rand(*shape, dtype=torch.float32, device='cpu'):
    return torch.randn(*shape, dtype=dtype, device=device)


def rel_err(a, ref):
    return ((a.double() - ref.double()).norm() / ref.double().norm()).item()


# --------------------------------------------------------------------------- argument errors

@pytest.mark.parametrize('shapes,hw,match', [
    (((2, 49, 32), ) * 3, None, '4-D'),
    (((1, 2, 49, 32), (1, 2, 49, 32), (1, 2, 48, 32)), None, 'same'),
    (((1, 2, 49, 32), ) * 3, (7, 8), 'hw=\\(7, 8\\)'),
    (((1, 2, 49, 32), ) * 3, (49, ), 'hw'),
    (((1, 2, 49, 30), ) * 3, (7, 7), 'divisible by 4'),
])
def test_bad_shapes_raise_value_error(shapes, hw, match):
    q, k, v = (rand(*s) for s in shapes)
    with pytest.raises(ValueError, match=match):
        linear_attention(q, k, v, hw=hw)


def test_bad_backend_and_dtype_raise_value_error():
    q = rand(1, 2, 49, 32)
    with pytest.raises(ValueError, match='backend must be one of'):
        linear_attention(q, q, q, backend='cuda')
    with pytest.raises(ValueError, match='same dtype'):
        linear_attention(q, q.half(), q)
    with pytest.raises(ValueError, match='floating-point'):
        linear_attention(*(torch.ones(1, 2, 4, 8, dtype=torch.long), ) * 3)


def test_forced_triton_with_unsupported_head_dim_or_dtype():
    q = rand(1, 2, 49, 8)
    with pytest.raises(ValueError, match='head dim 8'):
        linear_attention(q, q, q, backend='triton')
    q = rand(1, 2, 49, 32, dtype=torch.float64)
    with pytest.raises(ValueError, match='float64'):
        linear_attention(q, q, q, backend='triton')


def test_forced_triton_on_cpu_without_interpreter_says_how_to_fix(monkeypatch):
    if interface._triton_import_error():
        pytest.skip('triton not importable')
    monkeypatch.setattr(interface, '_triton_interpreting', lambda: False)
    q = rand(1, 2, 49, 32)
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET=1') as info:
        linear_attention(q, q, q, backend='triton')
    assert "backend='torch'" in str(info.value)


# ----------------------------------------------------------------- backend choice and logging

@pytest.fixture
def log_records(monkeypatch):
    records = []
    monkeypatch.setattr(interface, 'print_log', lambda msg, **kw: records.append(msg))
    monkeypatch.setattr(interface, '_logged', set())
    return records


def fake_cuda(*shape, dtype=torch.bfloat16):
    """A CUDA tensor's metadata without a GPU (backend choice only looks at metadata)."""
    with FakeTensorMode():
        return torch.empty(*shape, dtype=dtype, device='cuda')


def test_auto_on_cpu_uses_torch_and_logs_once(log_records):
    q = rand(1, 2, 49, 32)
    out = linear_attention(q, q, q, hw=(7, 7))
    linear_attention(q, q, q, hw=(7, 7))
    assert rel_err(out, linear_attention_torch(q, q, q, hw=(7, 7))) < 1e-6
    assert len(log_records) == 1 and "'torch'" in log_records[0]


@pytest.mark.parametrize('shape,dtype,expected,reason', [
    ((1, 2, 49, 32), torch.bfloat16, 'triton', None),
    ((1, 2, 49, 8), torch.bfloat16, 'torch', 'head dim 8'),
    ((1, 2, 49, 40), torch.float16, 'torch', 'head dim 40'),
    ((1, 2, 49, 32), torch.float64, 'torch', 'float64'),
])
def test_auto_on_cuda_tensors(shape, dtype, expected, reason, log_records):
    if expected == 'triton' and interface._triton_import_error():
        pytest.skip('triton not importable')
    q = fake_cuda(*shape, dtype=dtype)
    assert interface.select_backend('auto', q) == expected
    assert interface.select_backend('auto', q) == expected
    assert len(log_records) == 1, 'the choice is logged once'
    assert repr(expected) in log_records[0]
    if reason:
        assert reason in log_records[0]


def test_env_var_overrides_auto_but_not_an_explicit_backend(monkeypatch, log_records):
    q = fake_cuda(1, 2, 49, 32)
    monkeypatch.setenv(BACKEND_ENV_VAR, 'torch')
    assert interface.select_backend('auto', q) == 'torch'
    assert BACKEND_ENV_VAR in log_records[0]
    if not interface._triton_import_error():
        assert interface.select_backend('triton', q) == 'triton'
    monkeypatch.setenv(BACKEND_ENV_VAR, 'fast')
    with pytest.raises(ValueError, match=BACKEND_ENV_VAR):
        interface.select_backend('auto', q)


def test_env_var_triton_runs_the_kernels(monkeypatch, triton_device, log_records):
    monkeypatch.setenv(BACKEND_ENV_VAR, 'triton')
    q, k, v = (rand(1, 2, 49, 32, device=triton_device) for _ in range(3))
    assert interface.select_backend('auto', q) == 'triton'
    calls = []
    real = fused.fused_linear_attention_fwd
    monkeypatch.setattr(fused, 'fused_linear_attention_fwd',
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    out = linear_attention(q, k, v, hw=(7, 7))
    assert calls, 'the triton kernels ran'
    assert rel_err(out.cpu(), linear_attention_torch(q.cpu(), k.cpu(), v.cpu(), (7, 7))) < 1e-4


# ------------------------------------------------------------------ torch.compile / custom op

@pytest.mark.parametrize('backend', ['auto', 'torch', 'triton'])
def test_torch_compile_fullgraph(backend, device, request):
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    torch._dynamo.reset()

    def fn(q, k, v):
        return linear_attention(q, k, v, hw=(7, 7), backend=backend) * 2

    compiled = torch.compile(fn, fullgraph=True, backend='aot_eager')
    inputs = [rand(2, 2, 49, 32, device=device).requires_grad_() for _ in range(3)]
    out = compiled(*inputs)
    out.square().sum().backward()
    got = [out.detach()] + [x.grad for x in inputs]
    for x in inputs:
        x.grad = None
    eager = fn(*inputs)
    eager.square().sum().backward()
    for a, b in zip(got, [eager.detach()] + [x.grad for x in inputs]):
        assert rel_err(a, b) < 1e-5


def test_torch_compile_one_graph_for_every_resolution():
    """With dynamic shapes, new image sizes reuse the graph (the op takes N and hw at run time)."""
    import torch._dynamo.testing
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounter()
    fn = torch.compile(lambda q, hw: linear_attention(q, q, q, hw=hw), fullgraph=True,
                       dynamic=True, backend=counter)
    for hw in [(7, 7), (14, 14), (1, 197), (28, 28)]:
        q = rand(1, 2, hw[0] * hw[1], 32)
        assert rel_err(fn(q, hw), linear_attention_torch(q, q, q, hw=hw)) < 1e-5
    assert counter.frame_count == 1


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_custom_op_passes_opcheck(backend, request):
    """Schema, fake (meta) implementation, autograd registration, no aliasing."""
    if backend == 'triton':
        request.getfixturevalue('triton_device')
    device = 'cuda' if backend == 'triton' and torch.cuda.is_available() else 'cpu'
    q, k, v = (rand(1, 2, 49, 32, device=device).requires_grad_() for _ in range(3))
    torch.library.opcheck(op.linear_attention_fwd, (q, k, v, 7, 7, 1e-6, backend))


def test_jit_trace_shows_one_op_node_for_both_backends():
    q = rand(1, 2, 49, 32)
    for backend in ('torch', 'auto'):
        graph, _ = torch.jit._get_trace_graph(
            lambda q, k, v: linear_attention(q, k, v, hw=(7, 7), backend=backend), (q, q, q))
        kinds = [n.kind() for n in graph.nodes() if n.kind() != 'prim::Constant']
        assert kinds == [LINEAR_ATTENTION_OP_NAME]


def test_eager_fast_path_and_dispatch_modes_see_the_op():
    """Eager calls skip the custom-op dispatch (autograd.Function); a dispatch mode (e.g. a
    FLOP counter) sees one ``mmsola::linear_attention_fwd`` call; both give the same result."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):

        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    q = rand(1, 2, 49, 32).requires_grad_()
    eager = linear_attention(q, q, q, hw=(7, 7), backend='torch')
    assert type(eager.grad_fn).__name__ == 'LinearAttentionFunctionBackward'
    with Recorder() as recorder:
        traced = linear_attention(q, q, q, hw=(7, 7), backend='torch')
    assert recorder.ops[0] == 'mmsola.linear_attention_fwd.default'
    assert torch.equal(eager, traced)


# ---------------------------------------------------------------- no recompile for a new N

def _jit_function(kernel):
    from triton.runtime.jit import JITFunction
    if isinstance(kernel, JITFunction):
        return kernel
    kw = kernel.kwargs  # InterpretedFunction: the arguments given to @triton.jit
    return JITFunction(kernel.fn, do_not_specialize=kw['do_not_specialize'],
                       do_not_specialize_on_alignment=kw['do_not_specialize_on_alignment'])


def _compile_cache_key(jit_fn, args, kwargs):
    """The key under which Triton caches the compiled kernel for these launch arguments."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import make_backend
    from triton.runtime.jit import compute_cache_key, create_function_from_signature
    binder = create_function_from_signature(jit_fn.signature, jit_fn.params,
                                            make_backend(GPUTarget('cuda', 90, 32)))
    _, specialization, options = binder(*args, **kwargs)
    return compute_cache_key({}, specialization, options)


def _record_launches(monkeypatch):
    launches = {name: [] for name in fused.KERNEL_NAMES}

    class Recorder:

        def __init__(self, name, kernel):
            self.name, self.kernel = name, kernel

        def __getitem__(self, grid):

            def launch(*args, **kwargs):
                launches[self.name].append((args, kwargs))
                return self.kernel[grid](*args, **kwargs)

            return launch

    for name in fused.KERNEL_NAMES:
        monkeypatch.setattr(fused, name, Recorder(name, getattr(fused, name)))
    return launches


def _run_all_kernels(N, hw, device, layout):
    """Forward and backward through the one-pass and the split kernels (4 chunks)."""
    B, H, d = 1, 2, 32
    if layout == 'contiguous':
        q, k, v, do = (rand(B, H, N, d, dtype=torch.bfloat16, device=device) for _ in range(4))
    else:  # (B, N, 3, H, d) qkv, transposed to (B, H, N, d)
        qkv = rand(B, N, 3, H, d, dtype=torch.bfloat16, device=device)
        q, k, v = (x.transpose(1, 2) for x in qkv.unbind(2))
        do = rand(B, N, H, d, dtype=torch.bfloat16, device=device).transpose(1, 2)
    for chunk_size in (N, N // 4):
        o, kv, ks = fused.fused_linear_attention_fwd(q, k, v, hw, 1e-6, chunk_size=chunk_size)
        fused.fused_linear_attention_bwd(do, q, k, v, kv, ks, hw, 1e-6, chunk_size=chunk_size)


# N >= 4 token blocks (64 tokens for bf16, d=32), so that N // 4 gives several chunks
RESOLUTIONS = [(256, (16, 16)), (300, (15, 20)), (393, (1, 393))]


def test_new_resolution_reuses_the_compiled_kernels(monkeypatch, triton_device):
    """Triton's compile-cache key of every kernel is the same for every N and grid.

    Computed with Triton's own binder (as ``JITFunction.run`` does before compiling) for a
    CUDA target, from the arguments the host code really launches with, so it runs under the
    interpreter too.
    """
    launches = _record_launches(monkeypatch)
    for N, hw in RESOLUTIONS:
        for layout in ('contiguous', 'qkv-transposed'):
            _run_all_kernels(N, hw, triton_device, layout)
    for name in fused.KERNEL_NAMES:
        jit_fn = _jit_function(getattr(fused, name).kernel)
        keys = {_compile_cache_key(jit_fn, a, kw) for a, kw in launches[name]}
        assert len(launches[name]) == 2 * len(RESOLUTIONS), name
        assert len(keys) == 1, f'{name} would compile {len(keys)} variants'
        assert not any(p.is_constexpr for p in jit_fn.params if p.name in ('N', 'W', 'CHUNK'))

    # the check is sensitive: without do_not_specialize, N=256 and N=300 compile apart
    from triton.runtime.jit import JITFunction
    for name in ('_fwd_kernel', '_fwd_state_kernel'):
        plain = JITFunction(_jit_function(getattr(fused, name).kernel).fn)
        keys = {_compile_cache_key(plain, a, kw) for a, kw in launches[name][:4]}
        assert len(keys) > 1, name


def test_chunking_covers_every_token_and_picks_one_pass_for_many_heads(monkeypatch):
    """The work split: one program per batch-head when B * heads fills the GPU, else chunks
    of whole token blocks that cover N exactly once."""
    monkeypatch.setattr(fused, '_target_programs', lambda device: 2 * 132)  # an H100
    cuda = torch.device('cuda')
    assert fused._chunking(3136, 128 * 2, 64, cuda)[1] == 1
    assert fused._chunking(196, 16 * 8, 64, cuda)[1] == 1  # too short to be worth splitting
    for tokens, batch_heads, block in [(32768, 2 * 8, 64), (66600, 4, 32), (3137, 8, 16)]:
        chunk, num_chunks = fused._chunking(tokens, batch_heads, block, cuda)
        assert num_chunks > 1 and chunk % block == 0
        assert (num_chunks - 1) * chunk < tokens <= num_chunks * chunk
        assert num_chunks * batch_heads <= 2 * 132
    assert fused._chunking(197, 1, 64, cuda, chunk_size=197) == (256, 1)
    assert fused._chunking(197, 1, 64, cuda, chunk_size=50) == (64, 4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_new_resolution_compiles_nothing_on_gpu():
    device = torch.cuda.current_device()
    _run_all_kernels(*RESOLUTIONS[0], 'cuda', 'contiguous')
    sizes = {n: len(getattr(fused, n).device_caches[device][0]) for n in fused.KERNEL_NAMES}
    for N, hw in RESOLUTIONS[1:] + [(3136, (56, 56)), (3137, (1, 3137))]:
        for layout in ('contiguous', 'qkv-transposed'):
            _run_all_kernels(N, hw, 'cuda', layout)
    assert sizes == {n: len(getattr(fused, n).device_caches[device][0])
                     for n in fused.KERNEL_NAMES}


# --------------------------------------------------------------------------------- FLOPs

def test_flop_count_formula():
    B, H, N, d = 2, 8, 3136, 32
    assert linear_attention_flops(B, H, N, d) == B * H * (2 * N * d * d + N * d)


def test_flop_handle_on_the_traced_node():
    q = rand(2, 3, 49, 16)
    graph, _ = torch.jit._get_trace_graph(
        lambda q, k, v: linear_attention(q, k, v, hw=(7, 7), backend='torch'), (q, q, q))
    node = next(n for n in graph.nodes() if n.kind() == LINEAR_ATTENTION_OP_NAME)
    flops = linear_attention_flop_handle(list(node.inputs()), list(node.outputs()))
    assert flops == linear_attention_flops(2, 3, 49, 16)


def test_mmengine_flop_analyzer_counts_both_forms_alike():
    analysis = pytest.importorskip('mmengine.analysis')

    class Fused(torch.nn.Module):

        def forward(self, q, k, v):
            return linear_attention(q, k, v, hw=(7, 7), backend='torch')

    class Reference(torch.nn.Module):

        def forward(self, q, k, v):
            return linear_attention_torch(q, k, v, hw=(7, 7))

    q = rand(2, 3, 49, 16)
    fused_count = analysis.FlopAnalyzer(Fused(), (q, q, q)).set_op_handle(
        LINEAR_ATTENTION_OP_NAME, linear_attention_flop_handle)
    reference_count = analysis.FlopAnalyzer(Reference(), (q, q, q))
    expected = linear_attention_flops(2, 3, 49, 16)
    assert fused_count.total() == expected
    assert reference_count.total() == expected
