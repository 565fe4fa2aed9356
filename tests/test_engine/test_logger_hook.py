"""RankZeroLoggerHook: the test-metrics JSON has one writer (rank 0) and is written whole.

mmengine 0.10.7's LoggerHook writes that file from every rank; with two processes the writes
interleave (the 2-process test used to fail with ``JSONDecodeError: Extra data``). A fake second
rank shows the difference without starting processes; tests/test_tools/test_dist.py checks the same
in real two-process runs.
"""
import json
from types import SimpleNamespace

import pytest
from mmengine.hooks import LoggerHook
from mmengine.registry import HOOKS

from mmsola.engine import RankZeroLoggerHook
from mmsola.engine.hooks import logger_hook

TIMESTAMP = '20261201_000000'


def _runner(log_dir, metrics):
    """The parts of a Runner that LoggerHook's before_run and after_test_epoch use."""
    log_processor = SimpleNamespace(
        get_log_after_epoch=lambda runner, n, mode, with_non_scalar: (dict(metrics), 'log'))
    logged = []
    return SimpleNamespace(log_processor=log_processor, test_dataloader=[None] * 3,
                           logger=SimpleNamespace(info=logged.append), log_dir=str(log_dir),
                           work_dir=str(log_dir), timestamp=TIMESTAMP, logged=logged,
                           meta=None, cfg=SimpleNamespace(filename=None))


def _test_epoch(hook, runner, rank, monkeypatch):
    monkeypatch.setattr(logger_hook, 'is_main_process', lambda: rank == 0)
    hook.json_log_path = f'{TIMESTAMP}.json'  # what before_run sets
    hook.after_test_epoch(runner)


@pytest.mark.parametrize('rank', [0, 1])
def test_only_rank_zero_writes_the_metrics_file(tmp_path, monkeypatch, rank):
    runner = _runner(tmp_path, {'accuracy/top1': 50.0, 'time': 0.1 + rank})
    _test_epoch(RankZeroLoggerHook(), runner, rank, monkeypatch)
    assert runner.logged == ['log']  # every rank still logs the metrics line
    files = sorted(p.name for p in tmp_path.iterdir())
    if rank == 0:
        assert files == [f'{TIMESTAMP}.json']  # and no temporary file left behind
        assert json.loads((tmp_path / files[0]).read_text()) == {'accuracy/top1': 50.0,
                                                                  'time': 0.1}
    else:
        assert files == []


def test_mmengine_logger_hook_writes_from_every_rank(tmp_path, monkeypatch):
    """The behaviour the hook exists to fix: the stock hook writes on rank 1 as well."""
    runner = _runner(tmp_path, {'accuracy/top1': 50.0, 'time': 1.1})
    monkeypatch.setattr(logger_hook, 'is_main_process', lambda: False)
    hook = LoggerHook()
    hook.json_log_path = f'{TIMESTAMP}.json'
    hook.after_test_epoch(runner)
    assert (tmp_path / f'{TIMESTAMP}.json').exists()


def test_rank_zero_overwrites_a_previous_file_whole(tmp_path, monkeypatch):
    """A longer earlier file is replaced, not overwritten in place (no trailing bytes)."""
    (tmp_path / f'{TIMESTAMP}.json').write_text(json.dumps({'x': 'y' * 200}))
    runner = _runner(tmp_path, {'mIoU': 1.0})
    _test_epoch(RankZeroLoggerHook(), runner, 0, monkeypatch)
    assert json.loads((tmp_path / f'{TIMESTAMP}.json').read_text()) == {'mIoU': 1.0}


def test_every_config_family_uses_it():
    from mmengine.config import Config

    from tests.support.paths import REPO_ROOT
    assert HOOKS.get('RankZeroLoggerHook') is RankZeroLoggerHook
    configs = sorted((REPO_ROOT / 'configs').glob('**/*.py'))
    configs = [c for c in configs if '_base_' not in c.parts]
    assert len(configs) >= 13
    for path in configs:
        cfg = Config.fromfile(path, import_custom_modules=False)
        assert cfg.default_hooks.logger.type == 'RankZeroLoggerHook', path.name
