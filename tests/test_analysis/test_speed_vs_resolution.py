"""tools/analysis/speed_vs_resolution.py (its measuring in-process, the tool as a process) and
the timing primitives it is built on."""
import csv
import json
import sys

import pytest
import torch

from mmsola.analysis.output import write_csv
from mmsola.analysis.timing import environment_info, fixed_threads, peak_memory, time_callable
from tests.support.tool_runs import load_tool, run_cli

speed = load_tool('analysis/speed_vs_resolution')
COLUMNS, Settings, model_specs, predict, run, summary_tables = (
    speed.COLUMNS, speed.Settings, speed.model_specs, speed.predict, speed.run,
    speed.summary_tables)

TINY_ARCH = json.dumps(dict(embed_dims=8, num_heads=[1, 1, 2, 2],
                            layer_pattern=['L', 'L', 'LS', 'S']))


def _read(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_tiny_run_writes_every_column_and_a_png(tmp_path):
    """The tool as a user runs it (a fresh process)."""
    done = run_cli([sys.executable, 'tools/analysis/speed_vs_resolution.py', '--arch', TINY_ARCH,
                    '--resolutions', '32', '64', '--warmup', '0', '--repeats', '1',
                    '--infer-batches', '1', '2', '--train-batch', '2', '--threads', '1',
                    '--out-dir', str(tmp_path), '--name', 'tiny'])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"wrote {tmp_path / 'tiny.csv'}" in done.stdout
    with open(tmp_path / 'tiny.csv', newline='') as f:
        assert tuple(csv.DictReader(f).fieldnames) == COLUMNS
    rows = _read(tmp_path / 'tiny.csv')
    points = [(r['mode'], int(r['batch']), int(r['resolution'])) for r in rows]
    assert points == [(m, b, r) for m, b in (('infer', 1), ('infer', 2), ('train', 2))
                      for r in (32, 64)]
    for r in rows:
        assert r['status'] == 'ok', r
        assert float(r['median_ms']) > 0 and float(r['peak_mem_MB']) >= 0
        assert float(r['images_per_s']) == pytest.approx(
            int(r['batch']) * 1e3 / float(r['median_ms']), rel=1e-2)
        assert float(r['time_vs_ref']) == 1.0  # the only model is its own reference
        assert float(r['cpu_ms']) > 0 and float(r['cpu_vs_ref']) == 1.0
        assert (r['device'], r['threads'], r['amp'], r['torch']) == (
            'cpu', '1', 'off', torch.__version__)
    png = (tmp_path / 'tiny.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and b'Matplotlib' in png[:200]


def test_points_over_the_time_budget_are_skipped_and_say_so(tmp_path):
    all_linear = TINY_ARCH.replace('"LS", "S"', '"LL", "L"')
    settings = Settings(modes=['infer'], infer_batches=[1], resolutions=[32, 48, 64], warmup=0,
                        repeats=1, time_budget=1e-6)
    with fixed_threads(1):
        rows = run(model_specs([TINY_ARCH, all_linear]), settings)
    write_csv(rows, tmp_path / 'speed_vs_resolution.csv', COLUMNS)
    # measured side by side, written grouped by model
    assert [r['model'] for r in rows] == ['sola-custom0'] * 3 + ['sola-custom1'] * 3
    assert 'pattern=L/L/LL/L' in rows[3]['description']
    for model_rows in (rows[:3], rows[3:]):
        assert model_rows[0]['status'] == 'ok'  # nothing to predict from: measured
        assert all(r['status'].startswith('skipped: a smaller resolution exceeded the time '
                                          'budget') for r in model_rows[1:])
    csv_rows = _read(tmp_path / 'speed_vs_resolution.csv')
    assert csv_rows[2]['median_ms'] == '' and csv_rows[2]['time_vs_ref'] == ''
    assert float(csv_rows[3]['time_vs_ref']) > 0  # relative to the first model
    table = summary_tables(rows).splitlines()
    assert table[2] == '| input | sola-custom0 | sola-custom1 |'
    assert table[4].startswith('| 32 | 1.00x / 1.00x (')
    assert table[5] == '| 48 | skipped | skipped |'


def test_prediction_is_a_clamped_power_law_in_pixels():
    linear = [dict(resolution=100, t=1.), dict(resolution=200, t=4.)]
    assert predict(linear, 't', 400) == pytest.approx(16.)
    quadratic = [dict(resolution=100, t=1.), dict(resolution=200, t=16.)]
    assert predict(quadratic, 't', 400) == pytest.approx(256.)
    flat = [dict(resolution=100, t=1.), dict(resolution=200, t=1.)]
    assert predict(flat, 't', 400) == pytest.approx(4.)  # at least linear in pixels
    assert predict([], 't', 400) is None


def test_compare_set_and_bad_arguments():
    names = [s.name for s in model_specs(compare=True)]
    assert names == ['sola-t', 'sola-t-all-linear', 'sola-t-all-softmax', 'swin-t']
    assert Settings().infer_batches == [1, 8]
    with pytest.raises(ValueError, match='nothing to measure'):
        model_specs()
    with pytest.raises(ValueError, match='not valid JSON'):
        model_specs(['{"embed_dims": '])
    with pytest.raises(ValueError, match='does not exist'):
        model_specs(config=['configs/nope.py'])
    with pytest.raises(ValueError, match="'mps' is not supported"):
        Settings(device='mps')
    with pytest.raises(ValueError, match='--resolutions must be >= 32'):
        Settings(resolutions=[16])


def test_timing_primitives():
    calls = []
    result = time_callable(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and result['repeats'] == 3 and len(result['times_s']) == 3
    busy = time_callable(lambda: sum(range(200_000)), repeats=3)
    assert 0 < busy['cpu_median_s'] <= 1.5 * busy['median_s'] + 1e-3  # one thread busy
    assert result['min_s'] <= result['median_s'] <= result['max_s']
    with pytest.raises(ValueError, match='repeats >= 1'):
        time_callable(lambda: None, repeats=0)

    size = 64 * 2**20
    peak = peak_memory(lambda: torch.ones(size // 4).sum(), 'cpu')
    assert 0.9 * size < peak < 1.5 * size
    assert peak_memory(lambda: None, 'cpu') < 0.1 * size

    before = torch.get_num_threads()
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match='positive int'):
        with fixed_threads(0):
            pass
    info = environment_info('cpu')
    assert info['device'] == 'cpu' and info['torch'] == torch.__version__
