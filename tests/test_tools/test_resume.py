"""Resume is exact, with the config's own randomness on: a (narrowed) UperNet-SoLA-T run
stopped after its first checkpoint and continued with ``tools/train.py --resume`` ends with the
weights, optimizer state and scheduler state of the uninterrupted run (to 1e-6), in one
process and in two (gloo, tools/dist_train.sh).

The drop path of every mmsola config (0.2 for SoLA-T), UperNet's dropout and the random crops
and flips draw from the torch, numpy and Python generators, which mmengine does not
checkpoint; RNGStateHook (in every config) does. (tests/test_engine/test_rng_state_hook.py
shows a run without it diverging, and the epoch-based loop.) A disk failure mid-save keeps the last
checkpoint intact.
"""
import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmsola.checks import adopt_resumed_seed
from mmsola.engine import RNG_STATE_KEY
from tests.support import tool_runs
from tests.support.crash_points import HALT_ENV, config_with_halts, halt_env
from tests.support.fake_data import write_ade20k
from tests.support.small_runs import SMALL_UPERNET, options_for

pytestmark = pytest.mark.usefixtures('one_torch_thread')

UPERNET = 'configs/upernet_sola_t_ade20k.py'
NO_VAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
          'default_hooks.checkpoint.save_best=None']


@pytest.fixture
def deterministic_torch_restored():
    """mmengine turns torch's deterministic algorithms on for the whole process; turn them
    back to what they were for the tests that follow."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def _load(path):
    return torch.load(path, map_location='cpu', mmap=True, weights_only=True)


def _assert_same_state(got: dict, want: dict) -> None:
    """Same iteration, weights, optimizer state and scheduler state (to 1e-6)."""
    assert (got['meta']['iter'], got['meta']['epoch']) == (want['meta']['iter'],
                                                           want['meta']['epoch'])
    torch.testing.assert_close(got['state_dict'], want['state_dict'], rtol=0, atol=1e-6)
    got_opt, want_opt = got['optimizer'], want['optimizer']
    assert len(got_opt['state']) == len(want_opt['state']) > 0
    torch.testing.assert_close(got_opt['state'], want_opt['state'], rtol=0, atol=1e-6)
    assert [g['lr'] for g in got_opt['param_groups']] == pytest.approx(
        [g['lr'] for g in want_opt['param_groups']], rel=1e-12)
    assert got['param_schedulers'] == want['param_schedulers']


def _log_text(work_dir: Path) -> str:
    return '\n'.join(p.read_text() for p in sorted(work_dir.glob('*/*.log')))


@pytest.mark.slow
def test_resume_after_the_first_checkpoint_matches_the_uninterrupted_run(tmp_path,
                                                                         monkeypatch):
    """Two rounds of two iterations, a checkpoint and a validation after each; the second
    run stops after the first checkpoint and is resumed (mmengine replays the 2 batches seen;
    the validation before the stop draws nothing from the training generators)."""
    data_root = write_ade20k(tmp_path / 'data')
    probe = config_with_halts(UPERNET, tmp_path)
    cfg = Config.fromfile(str(probe))
    assert cfg.model.backbone.drop_path_rate == 0.2
    assert 'RNGStateHook' in [h['type'] for h in cfg.custom_hooks]
    options = options_for(str(probe), data_root,  # no best checkpoints: fewer saves, faster
                          [*SMALL_UPERNET, 'default_hooks.checkpoint.save_best=None'],
                          iters=2, epochs=2)

    full, stopped = tmp_path / 'full', tmp_path / 'stopped'
    tool_runs.train(str(probe), options(full))

    for name, value in halt_env('after_checkpoint', 2, tmp_path / 'halt', 'stop').items():
        monkeypatch.setenv(name, value)
    tool_runs.train(str(probe), options(stopped))
    monkeypatch.delenv(HALT_ENV)
    assert (stopped / 'last_checkpoint').read_text() == str(stopped / 'iter_2.pth')
    assert not (stopped / 'iter_4.pth').exists()
    first = _load(stopped / 'iter_2.pth')
    assert len(first[RNG_STATE_KEY]) == 1  # one process
    _assert_same_state(first, _load(full / 'iter_2.pth'))

    tool_runs.train(str(probe), options(stopped), '--resume')
    assert 'random generator states of the checkpoint will be restored' in _log_text(stopped)
    _assert_same_state(_load(stopped / 'iter_4.pth'), _load(full / 'iter_4.pth'))


@pytest.mark.slow
def test_two_processes_resume_like_the_uninterrupted_run(tmp_path):
    """tools/dist_train.sh with 2 processes (gloo): rank 0's checkpoint holds both ranks'
    states and each rank restores its own. The resumed run continues from the uninterrupted
    run's first checkpoint (what a run stopped there would have written: the one-process test
    checks that the two are equal)."""
    data_root = write_ade20k(tmp_path / 'data', num_train=8)
    options = options_for(UPERNET, data_root, [*SMALL_UPERNET, *NO_VAL], iters=1, epochs=2)

    def dist_train(work_dir, *args):
        run = tool_runs.run_cli(
            ['tools/dist_train.sh', UPERNET, '2', *args, '--cfg-options', *options(work_dir)])
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]

    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    dist_train(full)
    first = _load(full / 'iter_1.pth')
    assert len(first[RNG_STATE_KEY]) == 2  # both ranks' states, in rank 0's file
    resumed.mkdir()
    shutil.copy(full / 'iter_1.pth', resumed / 'iter_1.pth')
    dist_train(resumed, '--resume', str(resumed / 'iter_1.pth'))
    assert 'random generator states of the checkpoint will be restored' in _log_text(resumed)
    _assert_same_state(_load(resumed / 'iter_2.pth'), _load(full / 'iter_2.pth'))


@pytest.mark.slow
def test_crash_mid_save_keeps_last_checkpoint_and_resume_matches_uninterrupted_run(
        tmp_path, monkeypatch, deterministic_torch_restored):
    data_root = write_ade20k(tmp_path / 'ade')

    options = options_for(UPERNET, data_root,  # 2 iterations, a checkpoint after each
                          ['randomness.deterministic=True', *SMALL_UPERNET, *NO_VAL],
                          iters=1, epochs=2)

    full = tmp_path / 'full'
    tool_runs.train(UPERNET, options(full))

    # The disk fills up while iter_2.pth is being written.
    crashed = tmp_path / 'crashed'
    fsync = os.fsync

    def failing_fsync(fd):
        if os.readlink(f'/proc/self/fd/{fd}').split('/')[-1].startswith('.iter_2.pth'):
            raise OSError(errno.ENOSPC, 'No space left on device')
        fsync(fd)

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='No space left'):
        tool_runs.train(UPERNET, options(crashed))
    monkeypatch.undo()

    # Nothing half-written; the first checkpoint is whole and is the one to resume from.
    assert sorted(p.name for p in crashed.iterdir() if p.is_file()) == [
        'iter_1.pth', 'last_checkpoint', 'upernet_sola_t_ade20k.py']
    assert (crashed / 'last_checkpoint').read_text() == str(crashed / 'iter_1.pth')
    _assert_same_state(_load(crashed / 'iter_1.pth'), _load(full / 'iter_1.pth'))

    tool_runs.train(UPERNET, options(crashed), '--resume')
    resumed, uninterrupted = _load(crashed / 'iter_2.pth'), _load(full / 'iter_2.pth')
    assert resumed['meta']['iter'] == 2
    _assert_same_state(resumed, uninterrupted)


def test_a_resumed_run_without_a_configured_seed_takes_the_checkpoints(tmp_path):
    """mmengine would build the samplers and dataloader workers with a freshly drawn seed."""
    torch.save(dict(meta=dict(seed=1234, iter=2), state_dict={}), tmp_path / 'iter_2.pth')
    cfg = Config(dict(resume=True, load_from=str(tmp_path / 'iter_2.pth'),
                      randomness=dict(seed=None, deterministic=False)))
    adopt_resumed_seed(cfg)
    assert cfg.randomness == dict(seed=1234, deterministic=False)
    cfg.randomness.seed = 7  # a configured seed wins; a new run (no resume) is left alone
    adopt_resumed_seed(cfg)
    assert cfg.randomness.seed == 7
    fresh = Config(dict(resume=False, load_from=str(tmp_path / 'iter_2.pth')))
    adopt_resumed_seed(fresh)
    assert 'randomness' not in fresh
