"""Each attention core against a direct float64 computation of its formula (written here and
in tests/support/rope_reference.py, independently of mmsola.ops), and the Mixer wiring."""
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
from tests.support.rope_reference import rope_reference

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
    """The 'L' core's formula in float64."""
    q, k = (y @ core.qk.weight.T + core.qk.bias).chunk(2, dim=-1)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, y))
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    z = 1 / ((phi_q * phi_k.mean(dim=2, keepdim=True)).sum(-1, keepdim=True) + EPS)
    n = y.shape[1]
    kv = rope_reference(phi_k, hw).transpose(-2, -1) @ v / n
    out = rope_reference(phi_q, hw) @ kv
    return merge(out * z) + dwconv_reference(y, core.lepe, hw)


def softmax_reference(core, y, hw):
    """The 'S' core's formula in float64 (any input dtype and parameters: computed in float64)."""
    y = y.double()
    weight, bias = core.qkv.weight.double(), core.qkv.bias.double()
    q, k, v = (y @ weight.T + bias).chunk(3, dim=-1)
    lepe = dwconv_reference(v, core.lepe, hw)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, v))
    q, k = rope_reference(q, hw), rope_reference(k, hw)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return merge(torch.softmax(scores, dim=-1) @ v) + lepe


def _input(channels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, HW[0] * HW[1], channels, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize('heads', [1, 2, 3])
def test_linear_core_matches_formula(heads):
    core = LinearAttentionCore(8 * heads, heads, attn_backend='torch').double()
    y = _input(8 * heads)
    torch.testing.assert_close(core(y, HW), linear_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize('heads', [1, 2, 3])
def test_softmax_core_matches_formula(heads):
    core = SoftmaxAttentionCore(8 * heads, heads).double()
    y = _input(8 * heads)
    torch.testing.assert_close(core(y, HW), softmax_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


def test_softmax_core_fp32_output_and_every_gradient_match_float64():
    """The 'S' core in fp32 (apply_rope_2d + SDPA) against its formula in float64: output,
    and the gradients of the input and of every parameter, at an odd N (15) on a non-square
    grid, with 3 heads (the middle one turns with both axes); relative
    errors below 1e-4 as the op tests use for fp32."""
    torch.manual_seed(0)
    core = SoftmaxAttentionCore(48, 3)
    for p in core.parameters():  # non-trivial biases and LePE
        p.data.normal_(0, 0.3)
    y = _input(48).float().requires_grad_()
    y64 = y.detach().double().requires_grad_()
    weights = torch.randn(B, HW[0] * HW[1], 48, generator=torch.Generator().manual_seed(5),
                          dtype=torch.float64)
    out = core(y, HW)
    (out.double() * weights).sum().backward()
    ref_core = SoftmaxAttentionCore(48, 3).double()
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


def test_hybrid_core_is_half_linear_half_softmax():
    core = HybridAttentionCore(32, 4, attn_backend='torch').double()
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
