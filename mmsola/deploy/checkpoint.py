"""Strict checkpoint loading for export: a checkpoint must fit the model exactly."""
from typing import Optional

from torch import nn

from mmsola.checkpoint import (
    BN_COUNTERS,
    CheckpointError,
    diff_keys,
    load_checkpoint_dict,
    select_prefix,
    state_dict_of,
)


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the model; the message lists what differs."""


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
        CheckpointError: the file is missing, damaged or refused.
        CheckpointMismatchError: missing, unexpected or shape-mismatched keys (named, with
            counts), so a checkpoint of another arch or model is refused.
    """
    state = state_dict_of(load_checkpoint_dict(checkpoint), f'checkpoint {checkpoint}')
    own = model.state_dict()
    if prefix is None and not set(own) & set(state) and any(
            k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix:  # the metadata (module versions) goes along, for the load hooks
        state = select_prefix(state, prefix)
    diff = diff_keys(own, state, optional=BN_COUNTERS)
    if diff:
        raise CheckpointMismatchError(diff.message(
            f'checkpoint {checkpoint} does not fit {type(model).__name__} (prefix={prefix!r})',
            "Check that the config or --arch (and --layer-pattern) match the checkpoint's "
            'model.'))
    model.load_state_dict(state, strict=False)  # strict apart from BN step counters
    return len(state)
