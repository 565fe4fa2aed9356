"""The kernel speed engine (mmsola.ops.linear_attention.kernel_speed) and one CPU run of
benchmarks/benchmark_linear_attention.py (tiny shape, torch paths), which writes its table."""
import sys

from mmsola.ops.linear_attention import kernel_speed
from tests.support.tool_runs import run_cli


def test_benchmark_script_runs_on_cpu(tmp_path):
    out = tmp_path / 'table.md'
    run = run_cli([sys.executable, 'benchmarks/benchmark_linear_attention.py', '--device', 'cpu',
                   '--shapes', '1,2,16,16', '--reps', '2', '--out', str(out)])
    assert run.returncode == 0, run.stderr
    table = out.read_text().strip()
    assert run.stdout.strip() == table
    rows = [line for line in table.splitlines() if line.startswith('| (1, 2, 16, 16)')]
    assert {row.split('|')[3].strip() for row in rows} == {'torch op', 'eager reference'}
    for row in rows:
        fwd_ms, fwd_bwd_ms = float(row.split('|')[4]), float(row.split('|')[7])
        assert 0 < fwd_ms and 0 < fwd_bwd_ms


def test_grid_of_is_the_most_square_grid():
    assert kernel_speed.grid_of(3136) == (56, 56) and kernel_speed.grid_of(32768) == (128, 256)


def test_benchmark_labels_the_work_split(monkeypatch):
    """The Triton rows say which kernels ran (for an H100's 132 SMs here)."""
    import torch

    from mmsola.ops.linear_attention import fused
    monkeypatch.setattr(fused, '_target_programs', lambda device: 2 * 132)
    assert (kernel_speed.work_split((128, 2, 3136, 32), torch.bfloat16)
            == 'fwd: one pass, bwd: one pass')
    assert (kernel_speed.work_split((2, 8, 32768, 64), torch.bfloat16)
            == 'fwd: 16 chunks, bwd: 16 chunks')
