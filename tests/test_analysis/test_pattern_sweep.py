"""tools/analysis/pattern_sweep.py over mmsola.analysis.pattern_sweep: the placement rule,
the refused input, and a CSV + cost plot per pattern."""
import csv
import sys

import pytest

from mmsola.analysis.pattern_sweep import sweep_patterns
from mmsola.analysis.patterns import evenly_spaced, rule_patterns
from tests.support.tool_runs import run_cli


def test_evenly_spaced_rule_gives_the_presets():
    """k softmax blocks at the end of k equal runs: the tiny and small presets' stage 3."""
    tiny = ['LL', 'LLLL', 'LLLLLLLL', 'LLLS']
    assert rule_patterns(tiny, 2, [0, 1, 2, 4, 8]) == [
        ['LL', 'LLLL', p, 'LLLS'] for p in
        ('LLLLLLLL', 'LLLLLLLS', 'LLLSLLLS', 'LSLSLSLS', 'SSSSSSSS')]
    assert evenly_spaced(3, 21) == [6, 13, 20]  # small: (LLLLLLS) x 3
    with pytest.raises(ValueError, match='cannot place 9 softmax blocks'):
        evenly_spaced(9, 8)


def test_patterns_from_list_and_rule_without_repeats():
    assert sweep_patterns('tiny', ['LL/LLLL/LLLSLLLS/LLLS'], [0, 2], stage=3) == [
        ['LL', 'LLLL', 'LLLSLLLS', 'LLLS'], ['LL', 'LLLL', 'LLLLLLLL', 'LLLS']]
    assert sweep_patterns('tiny', softmax_blocks=[1], stage=4,
                          base_pattern='L/L/LL/LL') == [['L', 'L', 'LL', 'LS']]


def test_bad_input():
    with pytest.raises(ValueError, match='nothing to sweep'):
        sweep_patterns('tiny')
    with pytest.raises(ValueError, match='stages are numbered 1..4'):
        sweep_patterns('tiny', softmax_blocks=[1], stage=5)
    with pytest.raises(ValueError, match="invalid block kind 'X'"):
        sweep_patterns('tiny', ['L/L/X/L'])
    # the tool as a process: one line, exit status 2
    done = run_cli([sys.executable, 'tools/analysis/pattern_sweep.py'])
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        'pattern_sweep.py: error: nothing to sweep')


def test_sweep_writes_costs_and_plot(tmp_path):
    """Stage 3 'L' -> 'S' at 32x32 (C=256, 8 heads, d=32, N=4 tokens): the v projection
    (C^2 + C params, N C^2 flops) and QK^T, attn @ V instead of the linear products. The tool
    as a user runs it (a fresh process)."""
    out = tmp_path / 'sweep'
    done = run_cli([sys.executable, 'tools/analysis/pattern_sweep.py', '--patterns', 'L/L/L/L',
                    'L/L/S/L', '--size', '32', '--num-images', '1', '--warmup', '0',
                    '--repeats', '1', '--device', 'cpu', '--threads', '1',
                    '--out-dir', str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert '| L/L/S/L | 1 |' in done.stdout
    assert f"wrote {out / 'pattern_sweep.csv'} and {out / 'pattern_sweep.png'}" in done.stdout
    with open(out / 'pattern_sweep.csv') as f:
        lin, soft = list(csv.DictReader(f))
    assert (lin['layer_pattern'], soft['layer_pattern']) == ('L/L/L/L', 'L/L/S/L')
    assert (lin['softmax_blocks'], soft['softmax_per_stage']) == ('0', '0/0/1/0')
    c, h, d, n = 256, 8, 32, 4
    assert round((float(soft['params_M']) - float(lin['params_M'])) * 1e6) == c * c + c
    flops_delta = 2 * h * n * n * d - h * n * d * (2 * d + 1) + n * c * c
    assert (float(soft['flops_G']) - float(lin['flops_G'])) * 1e9 == \
        pytest.approx(flops_delta, abs=2e3)  # the CSV has 1e-6 G
    assert float(lin['softmax_attn_G']) == 0 < float(soft['softmax_attn_G'])
    for row in (lin, soft):
        assert float(row['latency_ms']) > 0 and float(row['images_per_s']) > 0
        assert 0 < float(row['r_0_2']) <= float(row['r_0_5']) <= 1
        assert row['erf_images'].startswith('random noise') and row['erf_num_images'] == '1'
        assert row['device'] == 'cpu' and row['torch'] and row['input_size'] == '32'
    png = (out / 'pattern_sweep.png').read_bytes()
    assert png.startswith(b'\x89PNG') and b'Matplotlib' in png
