"""Each attention core against a direct float64 computation of its formula (written here
independently of mmsola.ops), and the Mixer wiring."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsola.models.backbones import attention
from mmsola.models.backbones.attention import (AttentionMixer, HybridAttentionCore,
                                               LinearAttentionCore, SoftmaxAttentionCore)

HW = (3, 5)  # 15 tokens, a non-square grid
B, EPS = 2, 1e-6


def rope_reference(x, hw):
    """2-D RoPE, pair (p, p + d/2) rotated by row * theta_p (p < d/4) or col * theta_{p-d/4}."""
    n, d = x.shape[-2:]
    quarter = d // 4
    out = x.clone()
    for token in range(n):
        row, col = divmod(token, hw[1])
        for p in range(d // 2):
            pos = row if p < quarter else col
            angle = pos * 10000.0**(-(p % quarter) / quarter)
            a, b = x[..., token, p], x[..., token, p + d // 2]
            out[..., token, p] = a * math.cos(angle) - b * math.sin(angle)
            out[..., token, p + d // 2] = a * math.sin(angle) + b * math.cos(angle)
    return out


def dwconv_reference(tokens, conv, hw):
    """3x3 depthwise conv with zero padding, as a sum of shifted maps."""
    h, w = hw
    x = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
    padded = F.pad(x, (1, 1, 1, 1))
    out = conv.bias.view(1, -1, 1, 1).expand_as(x).clone()
    for i in range(3):
        for j in range(3):
            out = out + padded[:, :, i:i + h, j:j + w] * conv.weight[:, 0, i, j].view(1, -1, 1, 1)
    return out.flatten(2).transpose(1, 2)


def heads(x, num_heads):
    return x.reshape(x.shape[0], x.shape[1], num_heads, -1).transpose(1, 2)


def merge(x):
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def linear_reference(core, y, hw):
    q, k = (y @ core.qk.weight.T + core.qk.bias).chunk(2, dim=-1)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, y))
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    z = 1 / ((phi_q * phi_k.mean(dim=2, keepdim=True)).sum(-1, keepdim=True) + EPS)
    n = y.shape[1]
    out = rope_reference(phi_q, hw) @ (rope_reference(phi_k, hw).transpose(-2, -1) @ v / n)
    return merge(out * z) + dwconv_reference(y, core.lepe, hw)


def softmax_reference(core, y, hw):
    q, k, v = (y @ core.qkv.weight.T + core.qkv.bias).chunk(3, dim=-1)
    lepe = dwconv_reference(v, core.lepe, hw)
    q, k, v = (heads(t, core.num_heads) for t in (q, k, v))
    q, k = rope_reference(q, hw), rope_reference(k, hw)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return merge(torch.softmax(scores, dim=-1) @ v) + lepe


def _input(channels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, HW[0] * HW[1], channels, generator=gen, dtype=torch.float64)


def test_linear_core_matches_formula():
    core = LinearAttentionCore(16, 2, attn_backend='torch').double()
    y = _input(16)
    torch.testing.assert_close(core(y, HW), linear_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


def test_softmax_core_matches_formula():
    core = SoftmaxAttentionCore(16, 2).double()
    y = _input(16)
    torch.testing.assert_close(core(y, HW), softmax_reference(core, y, HW), rtol=1e-10,
                               atol=1e-10)


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
