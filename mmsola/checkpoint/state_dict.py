"""The weights inside a checkpoint dict, and the part of them under a prefix."""
from collections import OrderedDict
from typing import Any, Container, Dict, Sequence

from .reading import CheckpointError

# Where checkpoints keep their weights: mmengine's Runner ('state_dict'), timm-style and
# MLLA-style training scripts ('model'). A dict with neither is a bare state dict.
WEIGHT_ENTRIES = ('state_dict', 'model')


def state_dict_of(ckpt: Dict[str, Any], what: str = 'the checkpoint',
                  entries: Sequence[str] = WEIGHT_ENTRIES) -> Dict[str, Any]:
    """The state dict of a checkpoint dict: its first entry of ``entries`` that it has, or
    the dict itself when it has none of them (a bare state dict).

    Args:
        ckpt: a checkpoint as read (e.g. by :func:`~.reading.read_checkpoint`).
        what: how the messages name the checkpoint.
        entries: where to look, in order; ``('state_dict', )`` is where mmengine's Runner
            (``load_from``, ``--resume``) looks.

    Raises:
        CheckpointError: the entry found is not a dict.
    """
    for key in entries:
        if key in ckpt:
            if not isinstance(ckpt[key], dict):
                raise CheckpointError(f"{what}: its {key!r} entry is a "
                                      f'{type(ckpt[key]).__name__}, not a state dict.')
            return ckpt[key]
    return ckpt


def select_prefix(state_dict: Dict[str, Any], prefix: str, strip: bool = True) -> OrderedDict:
    """The keys under ``prefix`` (without it when ``strip``), carrying ``_metadata`` along.

    The metadata holds each module's ``version``, which the load hooks (``_version``) need,
    so it follows the keys: with ``strip``, the entry of the prefix's module becomes the root
    entry ``''``.

    Args:
        state_dict: e.g. a classifier's, with ``backbone.*`` and ``head.*`` keys.
        prefix: e.g. ``'backbone.'``; a missing final dot is added.
        strip: remove the prefix from the keys (to load into the submodule itself).
    """
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    cut = len(prefix) if strip else 0
    out = OrderedDict((k[cut:], v) for k, v in state_dict.items() if k.startswith(prefix))
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        root = prefix[:-1]
        out._metadata = OrderedDict(
            ('' if strip and k == root else k[cut:], v) for k, v in metadata.items()
            if k == root or k.startswith(prefix))
    return out


def drop_keys(state_dict: Dict[str, Any], keys: Container[str]) -> OrderedDict:
    """A copy of ``state_dict`` without ``keys``, its ``_metadata`` (versions) kept."""
    out = OrderedDict((k, v) for k, v in state_dict.items() if k not in keys)
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    return out
