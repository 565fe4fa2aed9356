"""A CheckpointHook after which the work dir always holds whole files, however the run dies.

mmengine 0.10's ``CheckpointHook`` leaves three windows in which a killed process (SIGKILL, OOM
killer, power loss) damages the work dir:

- it writes checkpoints through ``LocalBackend``, straight into the target file;
- it writes ``last_checkpoint`` with ``open(path, 'w')``, which empties the file before writing
  the new name: killed in between, ``--resume`` finds no checkpoint to continue from;
- with ``max_keep_ckpts`` it removes the oldest checkpoint *before* saving the new one: with
  ``max_keep_ckpts=1``, killed in between, the run has no checkpoint at all.

:class:`AtomicCheckpointHook` writes checkpoints through the ``atomic_local`` backend (by
default), moves ``last_checkpoint`` into place whole, removes the checkpoints that
``max_keep_ckpts`` drops only after the new one and ``last_checkpoint`` are written, and at the
start of training removes the temporary files that killed writes left behind.
"""
import os.path as osp
import tempfile
from typing import Any, List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from mmsola.utils.atomic_file_backend import (
    ATOMIC_LOCAL_BACKEND,
    AtomicLocalBackend,
    remove_stale_temp_files,
)


class _RunnerWithWorkDir:
    """A runner whose ``work_dir`` is another folder (everything else is the runner's)."""

    def __init__(self, runner, work_dir: str):
        self._runner, self.work_dir = runner, work_dir

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` calls wait until :meth:`run_removals`."""

    def __init__(self, backend):
        self._backend = backend
        self._removals: List[Tuple[str, str]] = []

    def remove(self, path) -> None:
        self._removals.append(('remove', path))

    def rmtree(self, path) -> None:
        self._removals.append(('rmtree', path))

    def run_removals(self) -> None:
        for method, path in self._removals:
            getattr(self._backend, method)(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _is_local(path: Optional[str]) -> bool:
    return path is None or '://' not in str(path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` whose files are whole at every moment.

    Same arguments; ``backend_args`` defaults to ``dict(backend='atomic_local')`` for a local
    ``out_dir``. In a config::

        default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1))
    """

    def __init__(self, *args, backend_args: Optional[dict] = None, **kwargs) -> None:
        if (backend_args is None and kwargs.get('file_client_args') is None
                and _is_local(kwargs.get('out_dir'))):
            backend_args = dict(backend=ATOMIC_LOCAL_BACKEND)
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        for folder in {runner.work_dir, self.out_dir}:
            if _is_local(folder):
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(f'removed {path}, left by a write that did not finish')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        backend, deferred = self.file_backend, _DeferredRemoval(self.file_backend)
        self.file_backend = deferred
        try:
            # mmengine writes last_checkpoint with open('w') into runner.work_dir: let it
            # write into a private folder, then put the file in place atomically
            with tempfile.TemporaryDirectory(prefix='mmsola-last-checkpoint-') as staging:
                super()._save_checkpoint_with_step(_RunnerWithWorkDir(runner, staging), step,
                                                   meta)
        finally:
            self.file_backend = backend
        if is_main_process():
            AtomicLocalBackend().put_text(self.last_ckpt, osp.join(runner.work_dir,
                                                                   'last_checkpoint'))
            deferred.run_removals()
