"""A LoggerHook whose files have one writer in distributed runs.

mmengine 0.10's ``LoggerHook.after_test_epoch`` dumps the test metrics on every rank into the
same ``<log_dir>/<timestamp>.json``: with two or more processes the writes interleave and the
file can end up as two JSON objects run together (``JSONDecodeError: Extra data``). Training and
validation metrics are unaffected (they go through the visualizer, which writes on rank 0 only).
:class:`RankZeroLoggerHook` logs on every rank as before but writes the test-metrics file on
rank 0 alone, atomically (temporary file, fsync, rename), and copies logs to ``out_dir`` from
rank 0 alone. Every mmsola config uses it as ``default_hooks.logger``, so mmsola's tools and
the toolkits' own ``tools/test.py`` both get it.
"""
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.hooks import LoggerHook
from mmengine.registry import HOOKS

from mmsola.utils.atomic_file_backend import AtomicLocalBackend


@HOOKS.register_module()
class RankZeroLoggerHook(LoggerHook):
    """:class:`mmengine.hooks.LoggerHook` with one writer per file (rank 0), written whole.

    Same arguments as ``LoggerHook``; in a config::

        default_hooks = dict(logger=dict(type='RankZeroLoggerHook', interval=50))
    """

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(log_str)
        if is_main_process():
            text = dump(self._process_tags(tag), file_format='json')
            AtomicLocalBackend().put_text(text, osp.join(runner.log_dir, self.json_log_path))

    def after_run(self, runner) -> None:
        # the log files are rank 0's; another rank copying (or removing) them races with it
        if is_main_process():
            super().after_run(runner)
