"""A test-only hook that halts a training run at one precise point, so that a test can kill it
there (deterministically, not by timing) or stop it.

:class:`CrashPointHook` (registered on import, e.g. through a config's ``custom_imports``) reads
``MMSOLA_TEST_HALT=<point>:<iteration>:<action>`` from the environment; without it, it does
nothing. Points (iterations count from 1, as checkpoint names do):

- ``forward``: inside the model's forward in training iteration ``<iteration>``;
- ``checkpoint_write``: while ``iter_<iteration>.pth`` / ``epoch_<iteration>.pth`` is being
  written: its temporary file is whole on disk but not yet renamed (the atomic backend's fsync);
- ``after_checkpoint``: once training iteration ``<iteration>`` is over and its checkpoint and
  ``last_checkpoint`` are written.

Actions: ``pause`` writes ``<point>.<rank>.halted`` into ``MMSOLA_TEST_HALT_DIR`` and sleeps until
the process is killed; ``stop`` (``after_checkpoint`` only) ends training as ``EarlyStoppingHook``
does: at once in an ``IterBasedTrainLoop``, at the end of the epoch in an ``EpochBasedTrainLoop``.
:func:`config_with_halts` writes a config that adds the hook to a shipped one.
"""
import os
import time
from pathlib import Path

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from tests.support.paths import REPO_ROOT

HALT_ENV, HALT_DIR_ENV = 'MMSOLA_TEST_HALT', 'MMSOLA_TEST_HALT_DIR'
POINTS = ('forward', 'checkpoint_write', 'after_checkpoint')


def halt_env(point: str, iteration: int, halt_dir, action: str = 'pause') -> dict:
    """The environment that halts a run at ``point`` of ``iteration``."""
    if point not in POINTS or action not in ('pause', 'stop'):
        raise ValueError(f'unknown halt point or action: {point!r}, {action!r}')
    return {HALT_ENV: f'{point}:{iteration}:{action}', HALT_DIR_ENV: str(halt_dir)}


def config_with_halts(config: str, folder) -> Path:
    """``config`` (relative to the repository root) with CrashPointHook appended to its own
    ``custom_hooks``, written into ``folder``; its path."""
    path = Path(folder) / f'{Path(config).stem}_halts.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"_base_ = ['{REPO_ROOT / config}']\n"
        "custom_imports = dict(imports=['mmsola', 'tests.support.crash_points'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [*_base_.custom_hooks, dict(type='CrashPointHook')]\n")
    return path


def _pause(point: str) -> None:
    marker = Path(os.environ[HALT_DIR_ENV]) / f'{point}.{get_rank()}.halted'
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    while True:  # until SIGKILL
        time.sleep(60)


@HOOKS.register_module(force=True)
class CrashPointHook(Hook):
    priority = 'LOWEST'  # after_train_iter: after the CheckpointHook has written

    def __init__(self):
        spec = os.environ.get(HALT_ENV)
        self.point, self.iteration, self.action = (None, 0, None)
        if spec:
            point, iteration, action = spec.split(':')
            self.point, self.iteration, self.action = point, int(iteration), action

    def before_train(self, runner) -> None:
        if self.point == 'forward':
            model = getattr(runner.model, 'module', runner.model)

            def halt_in_forward(module, args):
                if module.training and runner.iter + 1 == self.iteration:
                    _pause('forward')

            model.backbone.register_forward_pre_hook(halt_in_forward)
        elif self.point == 'checkpoint_write':
            self._halt_in_fsync(runner)

    def _halt_in_fsync(self, runner) -> None:
        """The atomic backend fsyncs the temporary file of a checkpoint before renaming it."""
        fsync = os.fsync
        prefixes = tuple(f'.{tmpl.format(self.iteration)}.' for tmpl in
                         ('iter_{}.pth', 'epoch_{}.pth'))

        def halting_fsync(fd):
            if os.readlink(f'/proc/self/fd/{fd}').rsplit('/', 1)[-1].startswith(prefixes):
                _pause('checkpoint_write')
            fsync(fd)

        os.fsync = halting_fsync

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.point == 'after_checkpoint' and runner.iter + 1 == self.iteration:
            if self.action == 'stop':
                runner.train_loop.stop_training = True
            else:
                _pause('after_checkpoint')
