"""Checkpoints, in one place: read them safely, find their weights, compare them with a model.

- :mod:`.allow_list`: what torch's weights-only unpickler may build besides tensors
  (mmengine's own types; the config objects of foreign training scripts, as plain data).
- :mod:`.reading`: :func:`read_checkpoint` and :func:`load_checkpoint_dict`, always
  ``weights_only=True``, with one clear :class:`CheckpointError` per way a file is wrong.
- :mod:`.state_dict`: :func:`state_dict_of` (the weights in a checkpoint dict) and
  :func:`select_prefix` (those of a submodule, e.g. ``backbone.``), :func:`drop_keys`.
- :mod:`.download`: :func:`fetch_checkpoint`, a URL's checkpoint downloaded once into torch's
  hub cache, checked before it is kept; :func:`register_download_host` for mmengine's loaders.
- :mod:`.key_diff`: :func:`diff_keys` gives a :class:`KeyDiff` (missing, unexpected and
  differently shaped keys) and its report.

Every loader and check of mmsola (``init_cfg`` Pretrained, the tools' checkpoint checks, the
export, the converters) is built on these, so a user meets the same messages everywhere.
Needs torch and mmengine only.
"""
from .allow_list import (
    FOREIGN_CONFIG_CLASSES,
    MMENGINE_CHECKPOINT_GLOBALS,
    InertConfig,
    allow_mmengine_checkpoint_globals,
    inert_configs,
)
from .download import (
    CheckpointDownloadError,
    cache_path,
    fetch_checkpoint,
    is_url,
    register_download_host,
)
from .key_diff import BN_COUNTERS, KeyDiff, diff_keys
from .reading import CheckpointError, is_remote, load_checkpoint_dict, read_checkpoint
from .state_dict import WEIGHT_ENTRIES, drop_keys, select_prefix, state_dict_of

__all__ = [
    'FOREIGN_CONFIG_CLASSES', 'MMENGINE_CHECKPOINT_GLOBALS', 'InertConfig',
    'allow_mmengine_checkpoint_globals', 'inert_configs', 'CheckpointDownloadError', 'cache_path',
    'fetch_checkpoint', 'is_url', 'register_download_host', 'BN_COUNTERS', 'KeyDiff', 'diff_keys',
    'CheckpointError', 'is_remote', 'load_checkpoint_dict', 'read_checkpoint', 'WEIGHT_ENTRIES',
    'drop_keys', 'select_prefix', 'state_dict_of'
]
