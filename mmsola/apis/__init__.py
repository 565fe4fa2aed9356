"""Helpers behind mmsola's command-line tools (``tools/``): loading and checking configs,
building their models, checking datasets and checkpoints.

Not imported by ``import mmsola``: the toolkits (mmdet, mmseg, mmpretrain) are imported here
only when a config that needs them is loaded.
"""
from .config import (TOOLKITS, ConfigError, build_model, init_toolkit, load_config,
                     toolkit_of)

__all__ = ['TOOLKITS', 'ConfigError', 'build_model', 'init_toolkit', 'load_config', 'toolkit_of']
