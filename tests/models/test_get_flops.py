"""tools/analysis/get_flops.py: the attention products are counted, equal to a hand count."""
import pytest

from tests.script_loading import load_script


@pytest.fixture(scope='module')
def get_flops():
    return load_script('tools/analysis/get_flops.py')


def test_attention_counted_equals_hand_count(get_flops):
    """Widths 16..128, head dim 8, input 64x64: grids 16x16, 8x8, 4x4, 2x2."""
    r = get_flops.report('tiny', (64, 64), layer_pattern='L/S/H/S', embed_dims=16,
                         num_classes=10)
    d = 8
    # softmax, 2 h N^2 d: stage 1 'S' (4 heads, N=64), stage 2 'H' (4 of 8 heads, N=16),
    # stage 3 'S' (16 heads, N=4)
    softmax = 2 * 4 * 64**2 * d + 2 * 4 * 16**2 * d + 2 * 16 * 4**2 * d
    # linear, h N d (2d + 1): stage 0 'L' (2 heads, N=256), stage 2 'H' (4 of 8 heads)
    linear = 2 * 256 * d * (2 * d + 1) + 4 * 16 * d * (2 * d + 1)
    assert r['attention'] == {'softmax': softmax, 'linear': linear}
    assert r['pattern'] == 'L/S/H/S'
    assert r['params'] == r['backbone_params'] + 128 * 10 + 10


def test_swapping_a_linear_block_for_softmax(get_flops):
    """Stage 1 (C=32, 4 heads, d=8, N=64): 'S' instead of 'L' adds QK^T and attn@V, removes
    the linear products and adds the v projection (N C^2); nothing else changes."""
    lin = get_flops.report('tiny', (64, 64), layer_pattern='L/L/L/L', embed_dims=16)
    soft = get_flops.report('tiny', (64, 64), layer_pattern='L/S/L/L', embed_dims=16)
    n, h, d, c = 64, 4, 8, 32
    assert soft['flops'] - lin['flops'] == 2 * h * n * n * d - h * n * d * (2 * d + 1) \
        + n * c * c


def test_a_missing_handle_is_caught(get_flops, monkeypatch):
    monkeypatch.setattr(get_flops, 'sdpa_flop_jit', lambda inputs, outputs: 0)
    with pytest.raises(RuntimeError, match='hand count'):
        get_flops.report('tiny', (32, 32), layer_pattern='L/L/S/S', embed_dims=16)


def test_cli_prints_the_table(get_flops, capsys):
    assert get_flops.main(['--arch', 'tiny', '--shape', '64', '64',
                           '--layer-pattern', 'LL/LLLL/LLLSLLLS/LLLS']) == 0
    out = capsys.readouterr().out
    assert '| tiny | LL/LLLL/LLLSLLLS/LLLS | 64x64 |' in out
    row = [line for line in out.splitlines() if line.startswith('| tiny')][0]
    params = float(row.split('|')[4])
    assert 24.5 < params < 30  # the spec's expected size of tiny
