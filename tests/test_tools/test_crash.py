"""Real crashes: tools/train.py as a child process, killed with SIGKILL at three points and
resumed with ``--resume`` after each, ends with the weights of an uninterrupted run.

CrashPointHook (tests/support/crash_points.py) makes the child halt at a precise point and say
so in a marker file; the test then kills it, so where it dies is exact, not a matter of timing.
After every kill the work dir holds only whole checkpoints, ``last_checkpoint`` names one of
them, and the temporary file of a write that was cut short never carries a checkpoint's name
(the next run removes it).
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmsola.engine import RNG_STATE_KEY
from tests.support import tool_runs
from tests.support.crash_points import config_with_halts, halt_env
from tests.support.fake_data import write_ade20k
from tests.support.paths import REPO_ROOT
from tests.support.small_runs import SMALL_UPERNET, options_for

pytestmark = [pytest.mark.usefixtures('one_torch_thread'), pytest.mark.slow]

CONFIG = 'configs/upernet_sola_t_ade20k.py'
NO_VAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
          'default_hooks.checkpoint.save_best=None']
TEMP_FILE = re.compile(r'^\..+\.tmp$')
HALT_TIMEOUT_S = 300


def _load(path):
    return torch.load(path, map_location='cpu', mmap=True, weights_only=True)


def _train_until_killed(argv, work_dir: Path, halt_dir: Path, point: str, iteration: int):
    """Start tools/train.py, wait until it halts at ``point`` of ``iteration``, SIGKILL it."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1',
               **halt_env(point, iteration, halt_dir))
    marker = halt_dir / f'{point}.0.halted'
    log = work_dir.parent / f'{work_dir.name}_{point}.out'
    with open(log, 'w') as out:
        child = subprocess.Popen([sys.executable, 'tools/train.py', *argv], cwd=REPO_ROOT,
                                 env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + HALT_TIMEOUT_S
            while not marker.exists():
                assert child.poll() is None, f'ended before {point}:\n{log.read_text()[-3000:]}'
                assert time.monotonic() < deadline, f'never reached {point}'
                time.sleep(0.1)
        finally:
            child.kill()  # SIGKILL: no cleanup, no finally blocks, no atexit
            child.wait()
    assert child.returncode == -9
    marker.unlink()


def _check_work_dir(work_dir: Path) -> dict:
    """Every ``*.pth`` file loads whole, ``last_checkpoint`` names one of them; the names of
    the checkpoints and of the temporary files found, and the iteration last_checkpoint is at."""
    checkpoints = sorted(p.name for p in work_dir.glob('*.pth'))
    for name in checkpoints:
        checkpoint = _load(work_dir / name)
        assert {'state_dict', 'optimizer', 'meta', RNG_STATE_KEY} <= set(checkpoint), name
    last = Path((work_dir / 'last_checkpoint').read_text())
    assert last.parent == work_dir and last.name in checkpoints
    temps = sorted(p.name for p in work_dir.iterdir() if TEMP_FILE.match(p.name))
    return dict(checkpoints=checkpoints, temps=temps, last_iter=_load(last)['meta']['iter'])


def test_sigkill_at_three_points_then_resume_matches_the_uninterrupted_run(tmp_path):
    data_root = write_ade20k(tmp_path / 'data')
    probe = config_with_halts(CONFIG, tmp_path)

    # 4 iterations, a checkpoint after each
    options = options_for(str(probe), data_root, [*SMALL_UPERNET, *NO_VAL], iters=1, epochs=4)

    full, crashed, halts = tmp_path / 'full', tmp_path / 'crashed', tmp_path / 'halts'
    tool_runs.train(str(probe), options(full))
    argv = [str(probe), '--cfg-options', *options(crashed)]

    # 1. inside the forward of iteration 2
    _train_until_killed(argv, crashed, halts, 'forward', 2)
    state = _check_work_dir(crashed)
    assert state == dict(checkpoints=['iter_1.pth'], temps=[], last_iter=1)

    # 2. resumed; killed while iter_3.pth is being written (whole on disk, not yet renamed)
    _train_until_killed([*argv, '--resume'], crashed, halts, 'checkpoint_write', 3)
    state = _check_work_dir(crashed)
    assert state['checkpoints'] == ['iter_1.pth', 'iter_2.pth'] and state['last_iter'] == 2
    assert len(state['temps']) == 1 and state['temps'][0].startswith('.iter_3.pth.')

    # 3. resumed from iter_2 (the temporary file is removed); killed right after iter_3.pth
    _train_until_killed([*argv, '--resume'], crashed, halts, 'after_checkpoint', 3)
    state = _check_work_dir(crashed)
    assert state == dict(checkpoints=['iter_1.pth', 'iter_2.pth', 'iter_3.pth'], temps=[],
                         last_iter=3)

    # 4. resumed to the end (no halt): the weights of the run that was never interrupted
    tool_runs.train(str(probe), options(crashed), '--resume')  # in this process: faster
    state = _check_work_dir(crashed)
    assert state == dict(checkpoints=['iter_2.pth', 'iter_3.pth', 'iter_4.pth'], temps=[],
                         last_iter=4)  # max_keep_ckpts=3
    resumed, uninterrupted = _load(crashed / 'iter_4.pth'), _load(full / 'iter_4.pth')
    torch.testing.assert_close(resumed['state_dict'], uninterrupted['state_dict'], rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(resumed['optimizer']['state'],
                               uninterrupted['optimizer']['state'], rtol=0, atol=1e-6)
