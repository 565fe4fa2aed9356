"""Each attention core against a direct float64 computation of its formula (written here and
in tests/rope_reference.py, independently of mmsola.ops), in both RoPE layouts, and the Mixer
wiring."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsola.models.backbones import attention
from mmsola.models.backbones.attention import (
    AttentionMixer,
    HybridAttentionCore,
    LinearAttentionCore,
    SoftmaxAttentionCore,
)
from tests.rope_reference import rope_reference

HW = (3, 5)  # 15 tokens, a non-square grid
B, EPS = 2, 1e-6


def dwconv_reference(tokens, conv, hw):
    """3x3 depthwise conv with zero padding, as a sum of shifted maps."""
    h, w = hw
    x = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
    padded = F.pad(x, (1, 1, 1, 1))
    weight, bias = conv.weight.to(x.dtype), conv.bias.to(x.dtype)
    out = bias.view(1, -1, 1, 1).expand_as(x).clone()
    for i in range(3):
        for j in range(3):
            out = out + padded[:, :, i:i + h, j:j + w] * weight[:, 0, i, j].view(1, -1, 1, 1)
    return out.flatten(2).transpose(1, 2)


def heads(x, num_heads):
    return x.reshape(x.shape[0], x.shape[1], num_heads, -1).transpose(1, 2)


def merge(x):
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def linear_reference(core, y, hw):
    """The 'L' core's formula in float64, with the RoPE layout of ``core.rope_layout``."""
    layout = core.rope_layout
    q, k = (y @ core.qk.weight.T + core.qk.bias).chunk(2, dim=-1)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, y))
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    z = 1 / ((phi_q * phi_k.mean(dim=2, keepdim=True)).sum(-1, keepdim=True) + EPS)
    n = y.shape[1]
    kv = rope_reference(phi_k, hw, layout).transpose(-2, -1) @ v / n
    out = rope_reference(phi_q, hw, layout) @ kv
    return merge(out * z) + dwconv_reference(y, core.lepe, hw)


def softmax_reference(core, y, hw):
    """The 'S' core's formula in float64 (any input dtype and parameters: computed in float64),
    with the RoPE layout of ``core.rope_layout``."""
    y = y.double()
    weight, bias = core.qkv.weight.double(), core.qkv.bias.double()
    q, k, v = (y @ weight.T + bias).chunk(3, dim=-1)
    lepe = dwconv_reference(v, core.lepe, hw)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, v))
    q, k = rope_reference(q, hw, core.rope_layout), rope_reference(k, hw, core.rope_layout)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return merge(torch.softmax(scores, dim=-1) @ v) + lepe


def _input(channels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, HW[0] * HW[1], channels, generator=gen, dtype=torch.float64)


LAYOUTS = ['mlla', 'per_head']


@pytest.mark.parametrize('heads', [2, 3])
@pytest.mark.parametrize('rope_layout', LAYOUTS)
def test_linear_core_matches_formula(rope_layout, heads):
    core = LinearAttentionCore(8 * heads, heads, attn_backend='torch',
                               rope_layout=rope_layout).double()
    y = _input(8 * heads)
    torch.testing.assert_close(core(y, HW), linear_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize('heads', [2, 3])
@pytest.mark.parametrize('rope_layout', LAYOUTS)
def test_softmax_core_matches_formula(rope_layout, heads):
    core = SoftmaxAttentionCore(8 * heads, heads, rope_layout=rope_layout).double()
    y = _input(8 * heads)
    torch.testing.assert_close(core(y, HW), softmax_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


def test_the_default_layout_is_mlla_and_differs_from_per_head():
    y = _input(24)
    for cls, kwargs in ((LinearAttentionCore, dict(attn_backend='torch')),
                        (SoftmaxAttentionCore, {})):
        core = cls(24, 3, **kwargs).double()
        assert core.rope_layout == 'mlla'
        per_head = cls(24, 3, rope_layout='per_head', **kwargs).double()
        per_head.load_state_dict(core.state_dict())
        assert not torch.allclose(core(y, HW), per_head(y, HW)), cls.__name__
    with pytest.raises(ValueError, match='rope_layout must be one of'):
        SoftmaxAttentionCore(16, 2, rope_layout='per-head')


@pytest.mark.parametrize('rope_layout', LAYOUTS)
def test_softmax_core_fp32_output_and_every_gradient_match_float64(rope_layout):
    """The 'S' core in fp32 (apply_rope_2d + SDPA) against its formula in float64: output,
    and the gradients of the input and of every parameter, at an odd N (15) on a non-square
    grid, with 3 heads (the middle one turns with both axes in the 'mlla' layout); relative
    errors below 1e-4 as the op tests use for fp32."""
    torch.manual_seed(0)
    core = SoftmaxAttentionCore(48, 3, rope_layout=rope_layout)
    for p in core.parameters():  # non-trivial biases and LePE
        p.data.normal_(0, 0.3)
    y = _input(48).float().requires_grad_()
    y64 = y.detach().double().requires_grad_()
    weights = torch.randn(B, HW[0] * HW[1], 48, generator=torch.Generator().manual_seed(5),
                          dtype=torch.float64)
    out = core(y, HW)
    (out.double() * weights).sum().backward()
    ref_core = SoftmaxAttentionCore(48, 3, rope_layout=rope_layout).double()
    ref_core.load_state_dict(core.state_dict())
    ref = softmax_reference(ref_core, y64, HW)
    (ref * weights).sum().backward()

    def rel(a, b):
        return ((a.double() - b).norm() / b.norm()).item()

    assert rel(out.detach(), ref.detach()) < 1e-4
    assert rel(y.grad, y64.grad) < 1e-4
    ref_grads = dict(ref_core.named_parameters())
    for name, p in core.named_parameters():
        assert rel(p.grad, ref_grads[name].grad) < 1e-4, name


@pytest.mark.parametrize('rope_layout', LAYOUTS)
def test_hybrid_core_is_half_linear_half_softmax(rope_layout):
    core = HybridAttentionCore(32, 4, attn_backend='torch', rope_layout=rope_layout).double()
    assert core.linear.rope_layout == core.softmax.rope_layout == rope_layout
    y = _input(32)
    expected = torch.cat([linear_reference(core.linear, y[..., :16], HW),
                          softmax_reference(core.softmax, y[..., 16:], HW)], dim=-1)
    torch.testing.assert_close(core(y, HW), expected, rtol=1e-10, atol=1e-10)


def test_hybrid_runs_both_kernels_with_half_the_heads(monkeypatch):
    calls = []
    real_linear, real_sdpa = attention.linear_attention, F.scaled_dot_product_attention

    def spy_linear(q, k, v, **kwargs):
        calls.append(('L', q.shape[1], q.shape[-1]))
        return real_linear(q, k, v, **kwargs)

    def spy_sdpa(q, k, v, *args, **kwargs):
        calls.append(('S', q.shape[1], q.shape[-1]))
        return real_sdpa(q, k, v, *args, **kwargs)

    monkeypatch.setattr(attention, 'linear_attention', spy_linear)
    monkeypatch.setattr(attention.F, 'scaled_dot_product_attention', spy_sdpa)
    HybridAttentionCore(32, 4)(_input(32).float(), HW)
    assert sorted(calls) == [('L', 2, 8), ('S', 2, 8)]


def test_softmax_core_is_global_linear_core_is_not_softmax():
    """A change at the last token reaches the first token's softmax output through attention
    (not only through the local LePE), and the two kinds give different results."""
    torch.manual_seed(0)
    soft = SoftmaxAttentionCore(16, 2).double()
    y = _input(16)
    y2 = y.clone()
    y2[:, -1] += 1.0  # token (2, 4): outside the 3x3 LePE window of token (0, 0)
    assert (soft(y2, HW)[:, 0] - soft(y, HW)[:, 0]).abs().max() > 1e-4
    lin = LinearAttentionCore(16, 2, attn_backend='torch').double()
    lin.qk.load_state_dict({'weight': soft.qkv.weight[:32], 'bias': soft.qkv.bias[:32]})
    assert not torch.allclose(lin(y, HW), soft(y, HW))


def test_rope_depends_on_the_grid_not_only_on_n():
    """The same 15 tokens as a 3x5 or a 5x3 grid: different positions, different outputs."""
    core = SoftmaxAttentionCore(16, 2).double()
    core.lepe.weight.data.zero_()
    y = _input(16)
    assert not torch.allclose(core(y, (3, 5)), core(y, (5, 3)))
    torch.testing.assert_close(core(y, (5, 3)), softmax_reference(core, y, (5, 3)))


@pytest.mark.parametrize('kind', ['L', 'S', 'H'])
def test_mixer_gates_the_core(kind):
    mixer = AttentionMixer(16, 2, kind, attn_backend='torch').double()
    x = _input(16, seed=1)
    gate = F.silu(x @ mixer.gate_proj.weight.T + mixer.gate_proj.bias)
    y = x @ mixer.in_proj.weight.T + mixer.in_proj.bias
    y = F.silu(dwconv_reference(y, mixer.dwconv, HW))
    expected = (mixer.core(y, HW) * gate) @ mixer.out_proj.weight.T + mixer.out_proj.bias
    torch.testing.assert_close(mixer(x, HW), expected, rtol=1e-10, atol=1e-10)
