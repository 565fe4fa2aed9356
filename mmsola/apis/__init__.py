"""Helpers behind mmsola's command-line tools (``tools/``): loading and checking configs,
building their models, checking datasets and checkpoints, fitting the launcher to the
machine, running a model on image files (:mod:`.inference`); and :func:`run_tool`, the one
runner of every tool's ``main`` (the tools' command lines are :mod:`mmsola.commands`).

Not imported by ``import mmsola``: the toolkits (mmdet, mmseg, mmpretrain) are imported here
only when a config that needs them is loaded.
"""
from .checkpoint_checks import (
    CheckpointError,
    adopt_resumed_seed,
    check_checkpoint,
    check_pretrained,
    model_shapes,
    resolve_resume,
)
from .cli import USER_ERROR_STATUS, USER_ERRORS, UserError, error_line, run_tool
from .config import (
    TOOLKITS,
    ConfigError,
    build_model,
    init_toolkit,
    load_config,
    set_work_dir,
    toolkit_of,
)
from .dataset_checks import DatasetNotFoundError, check_datasets
from .inference import InferError, collect_images, infer_images
from .launcher import (
    LauncherError,
    add_launcher_args,
    build_runner,
    export_local_rank,
    setup_launcher,
)
from .run_errors import naming_empty_images, run_error_message

__all__ = [
    'TOOLKITS', 'ConfigError', 'build_model', 'init_toolkit', 'load_config', 'toolkit_of',
    'CheckpointError', 'DatasetNotFoundError', 'check_checkpoint', 'check_datasets',
    'check_pretrained', 'model_shapes', 'resolve_resume', 'adopt_resumed_seed', 'LauncherError',
    'build_runner', 'setup_launcher', 'add_launcher_args', 'export_local_rank', 'set_work_dir',
    'run_error_message', 'InferError', 'collect_images', 'infer_images',
    'naming_empty_images',
    'UserError', 'USER_ERRORS', 'USER_ERROR_STATUS', 'error_line', 'run_tool'
]
