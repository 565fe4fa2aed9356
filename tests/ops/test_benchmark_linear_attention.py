"""The benchmark script runs (on CPU, tiny shape, torch paths) and writes its table."""
from tests.script_loading import load_script


def load_benchmark():
    return load_script('benchmarks/benchmark_linear_attention.py')


def test_benchmark_runs_on_cpu(tmp_path):
    module = load_benchmark()
    out = tmp_path / 'table.md'
    table = module.main(['--device', 'cpu', '--shapes', '1,2,16,16', '--reps', '2', '--out',
                         str(out)])
    assert out.read_text().strip() == table.strip()
    rows = [line for line in table.splitlines() if line.startswith('| (1, 2, 16, 16)')]
    assert {row.split('|')[3].strip() for row in rows} == {'torch op', 'eager reference'}
    for row in rows:
        fwd_ms, fwd_bwd_ms = float(row.split('|')[4]), float(row.split('|')[7])
        assert 0 < fwd_ms and 0 < fwd_bwd_ms
    assert module.grid_of(3136) == (56, 56) and module.grid_of(32768) == (128, 256)


def test_benchmark_labels_the_work_split(monkeypatch):
    """The Triton rows say which kernels ran (for an H100's 132 SMs here)."""
    import torch

    from mmsola.ops.linear_attention import fused
    module = load_benchmark()
    monkeypatch.setattr(fused, '_target_programs', lambda device: 2 * 132)
    assert (module.work_split((128, 2, 3136, 32), torch.bfloat16)
            == 'fwd: one pass, bwd: one pass')
    assert (module.work_split((2, 8, 32768, 64), torch.bfloat16)
            == 'fwd: 16 chunks, bwd: 16 chunks')
