"""The checks mmsola's tools run before anything is built, each raising an
:class:`~mmsola.errors.UserError` whose message says what was wrong and how to fix it.

- :mod:`.config`: load a config for mmdet, mmseg or mmpretrain and check it (``ConfigError``);
  build its model in its toolkit. :mod:`.cfg_options`: ``--cfg-options`` keys and values.
- :mod:`.dataset`: the data a run reads is on disk (``DatasetNotFoundError``).
- :mod:`.checkpoint`: checkpoints exist, can be read and fit the model (``CheckpointError``).
- :mod:`.launcher`: ``--launcher`` can work here (``LauncherError``).
- :mod:`.run`: :func:`check_run`, all of the above that a training or test run needs, in one
  call.
- :mod:`.run_errors`: the errors of the data met while a run runs, as one line.

Not imported by ``import mmsola``: the toolkits are imported only when a config that needs
them is loaded.
"""
from .checkpoint import (
    CheckpointError,
    adopt_resumed_seed,
    check_checkpoint,
    check_pretrained,
    model_shapes,
    resolve_resume,
)
from .config import TOOLKITS, ConfigError, build_model, init_toolkit, load_config, toolkit_of
from .dataset import DatasetNotFoundError, check_datasets
from .launcher import LAUNCHERS, LauncherError, check_launcher
from .run import check_run

__all__ = [
    'check_run', 'TOOLKITS', 'ConfigError', 'build_model', 'init_toolkit', 'load_config',
    'toolkit_of', 'CheckpointError', 'adopt_resumed_seed', 'check_checkpoint', 'check_pretrained',
    'model_shapes', 'resolve_resume', 'DatasetNotFoundError', 'check_datasets', 'LAUNCHERS',
    'LauncherError', 'check_launcher'
]
