"""The channels-last fast path computes what the original backbone computed.

``tests/data/backbone_before_fast_path.pth`` was written by the backbone as it was before the
CPU speed work (commit b134b6b), with this file's :func:`make_reference`::

    git worktree add --detach /tmp/mmsola_before b134b6b
    PYTHONPATH=/tmp/mmsola_before python tests/test_models/test_fast_path_equivalence.py \\
        --write tests/data/backbone_before_fast_path.pth

It holds a small backbone's checkpoint (every block kind, HSB, every stage returned), an input,
the eval-mode outputs, and the train-mode outputs with the gradients of the input and of every
parameter under a fixed random loss. The current code must load that checkpoint unchanged and
reproduce all of it to fp32 tolerance. b134b6b's RoPE turned every head alike, which equals
today's layout (MLLA's, spanning all heads of a core) exactly when a core has one head, so every
core of the model has one head (an 'H' core's halves have one each: its stage has two).
"""
import argparse
from pathlib import Path

import pytest
import torch

from mmsola.models import SoLAVision

REFERENCE = Path(__file__).resolve().parents[1] / 'data' / 'backbone_before_fast_path.pth'
# every kind ('L', 'S', 'H'), one head per core, head dims 4 to 32, HSB on, four outputs
KWARGS = dict(arch=dict(embed_dims=4, num_heads=[1, 1, 2, 1],
                        layer_pattern=['LS', 'L', 'HH', 'SL']),
              drop_path_rate=0., hsb=True, out_indices=(0, 1, 2, 3), attn_backend='torch')
INPUT_SHAPE = (2, 3, 45, 61)  # odd sizes: every stride-2 step pads an edge


def _randomized_state(model: torch.nn.Module, seed: int = 0) -> dict:
    """Random values for every float tensor of the state (so BN statistics and the zero-init
    HSB scale matter), positive BN variances."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            t = (torch.rand(t.shape, generator=gen) * 0.5 + 0.5 if 'running_var' in name else
                 torch.randn(t.shape, generator=gen) * 0.2)
        state[name] = t.clone()
    return state


def _run(model: SoLAVision, x: torch.Tensor, weights):
    """Eval outputs, then train-mode outputs and gradients of a weighted sum of them."""
    model.eval()
    with torch.no_grad():
        eval_outs = [o.clone() for o in model(x)]
    model.train()
    x = x.clone().requires_grad_(True)
    outs = model(x)
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return dict(eval_outs=eval_outs, train_outs=[o.detach().clone() for o in outs],
                input_grad=x.grad.clone(), param_grads=grads)


def make_reference(path: Path) -> None:
    """Write the reference file with whatever ``mmsola`` is importable (see module doc)."""
    torch.manual_seed(0)
    model = SoLAVision(**KWARGS)
    state = _randomized_state(model)
    model.load_state_dict(state)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(INPUT_SHAPE, generator=gen)
    with torch.no_grad():
        shapes = [o.shape for o in model.eval()(x)]
    weights = [torch.randn(s, generator=gen) for s in shapes]
    result = _run(model, x, weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=state, input=x, loss_weights=weights, **result), path)


def _assert_close(actual, expected, what, rtol=1e-4):
    """Max error within ``rtol`` of the reference's largest magnitude (fp32 round-off of
    reordered sums), plus a tiny floor."""
    assert actual.shape == expected.shape, what
    err = (actual.double() - expected.double()).abs().max().item()
    scale = expected.double().abs().max().item()
    assert err <= rtol * scale + 1e-7, f'{what}: max error {err:.3g} vs scale {scale:.3g}'


@pytest.fixture(scope='module')
def reference():
    return torch.load(REFERENCE, weights_only=True)


def test_reference_file_is_small():
    assert REFERENCE.stat().st_size < 1_000_000


def test_old_checkpoint_loads_and_reproduces_outputs_and_gradients(reference):
    model = SoLAVision(**KWARGS)
    assert set(model.state_dict()) == set(reference['state_dict'])
    model.load_state_dict(reference['state_dict'], strict=True)
    got = _run(model, reference['input'], reference['loss_weights'])
    for i, (a, b) in enumerate(zip(got['eval_outs'], reference['eval_outs'])):
        _assert_close(a, b, f'eval output {i}')
    for i, (a, b) in enumerate(zip(got['train_outs'], reference['train_outs'])):
        _assert_close(a, b, f'train output {i}')
    _assert_close(got['input_grad'], reference['input_grad'], 'input gradient')
    assert set(got['param_grads']) == set(reference['param_grads'])
    for name, g in reference['param_grads'].items():
        _assert_close(got['param_grads'][name], g, f'gradient of {name}')


def test_channels_last_input_and_batch_one_give_the_same_outputs(reference):
    """A channels-last image, and one image alone, take other stride paths through the
    convs; the outputs must not change."""
    model = SoLAVision(**KWARGS).eval()
    model.load_state_dict(reference['state_dict'])
    x = reference['input']
    with torch.no_grad():
        outs_cl = model(x.contiguous(memory_format=torch.channels_last))
        outs_one = model(x[1:])
    for i, (a, one, b) in enumerate(zip(outs_cl, outs_one, reference['eval_outs'])):
        _assert_close(a, b, f'channels-last input, output {i}')
        _assert_close(one, b[1:], f'batch of one, output {i}')
        assert a.is_contiguous()  # outputs stay plain NCHW for necks and heads


@pytest.mark.parametrize('hw', [(9, 113), None])
def test_token_blocked_torch_passes_match_the_float64_reference(monkeypatch, hw):
    """The CPU forward and backward work on token blocks (sums over blocks): with blocks of
    64 tokens, an odd N and strided fp32 inputs, outputs and every gradient still match the
    autograd reference in float64."""
    # imported here, not at the top: the file must import under b134b6b's mmsola, which has no
    # torch_backend, to write the reference (module doc)
    from mmsola.ops.linear_attention import naive, torch_backend
    monkeypatch.setattr(torch_backend, 'BLOCK_BYTES', 64 * 2 * 2 * 16 * 4)
    gen = torch.Generator().manual_seed(0)
    b, heads, n, d = 2, 2, 9 * 113, 16
    qk = torch.randn(b, n, 2 * heads * d, generator=gen)
    q, k = (t.reshape(b, n, heads, d).transpose(1, 2) for t in qk.chunk(2, dim=-1))
    v = torch.randn(b, n, heads, d, generator=gen).transpose(1, 2)
    do = torch.randn(b, n, heads, d, generator=gen).transpose(1, 2)
    assert len(torch_backend.token_blocks(q, torch.float32)) == 16  # 15 of 64 tokens, one of 57

    o, kv, ks = torch_backend.linear_attention_torch_fwd(q, k, v, hw)
    grads = torch_backend.linear_attention_torch_bwd(do, q, k, v, kv, ks, hw)
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    ref = naive.linear_attention_torch(q64, k64, v64, hw)
    ref.backward(do.double())
    _assert_close(o, ref.detach(), 'output', rtol=1e-5)
    for name, g, t in zip('qkv', grads, (q64, k64, v64)):
        _assert_close(g, t.grad, f'd{name}', rtol=1e-5)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description='Write the backbone reference file.')
    parser.add_argument('--write', type=Path, required=True, help='output .pth path')
    make_reference(parser.parse_args().write)
