"""Strict checkpoint loading for export: a checkpoint must fit the model exactly."""
from typing import Optional

from torch import nn

from mmsola.models.backbones.pretrained import strip_prefix

_COUNTERS = 'num_batches_tracked'  # BN step counters: not weights, may be absent


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model; the message lists what differs."""


def _state_dict_of(checkpoint: str) -> dict:
    from mmsola.utils import load_checkpoint_dict
    ckpt = load_checkpoint_dict(checkpoint)  # CheckpointError: missing, damaged, refused
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    return ckpt


def _listing(keys, more_than: int = 5) -> str:
    extra = f' ... (+{len(keys) - more_than})' if len(keys) > more_than else ''
    return f'{keys[:more_than]}{extra}'


def load_checkpoint_strict(model: nn.Module, checkpoint: str,
                           prefix: Optional[str] = None) -> int:
    """Load ``checkpoint`` into ``model``; every weight must be there with the right shape.

    Args:
        model: the module to fill.
        checkpoint: a path or URL that mmengine's loaders read (a Runner checkpoint with
            ``state_dict``, or a plain state dict).
        prefix: keep only the keys under this prefix, without it (e.g. ``'backbone.'`` to
            load a backbone from a whole-model checkpoint). If None and no key of the model
            is found but keys start with ``'backbone.'``, that prefix is used.

    Returns:
        the number of tensors loaded.

    Raises:
        CheckpointMismatchError: missing, unexpected or shape-mismatched keys (named, with
            counts), so a checkpoint of another arch or model is refused.
    """
    state = _state_dict_of(checkpoint)
    own = model.state_dict()
    if prefix is None and not set(own) & set(state) and any(
            k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix:  # the metadata (versions, RoPE layout) goes along, for the load hooks
        state = strip_prefix(state, prefix)
    missing = [k for k in own if k not in state and not k.endswith(_COUNTERS)]
    unexpected = [k for k in state if k not in own]
    mismatched = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
                  for k in own if k in state and hasattr(state[k], 'shape')
                  and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(
            f'checkpoint {checkpoint} does not fit {type(model).__name__} '
            f'(prefix={prefix!r}): {len(missing)} missing keys {_listing(missing)}, '
            f'{len(unexpected)} unexpected keys {_listing(unexpected)}, {len(mismatched)} '
            f'shape mismatches {_listing(mismatched, 3)}. Check that the config or --arch '
            '(and --layer-pattern) match the checkpoint\'s model.')  # keys in model order
    model.load_state_dict(state, strict=False)  # strict apart from BN step counters
    return len(state)
