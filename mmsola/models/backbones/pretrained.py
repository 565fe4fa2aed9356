"""Load pretrained weights into a module and report how much of it they cover."""
import logging
from typing import Optional, Union

from torch import nn

from mmsola.checkpoint import (
    BN_COUNTERS,
    diff_keys,
    drop_keys,
    load_checkpoint_dict,
    select_prefix,
    state_dict_of,
)


def load_pretrained(module: nn.Module, checkpoint: Union[str, dict],
                    prefix: Optional[str] = None, map_location: str = 'cpu',
                    name: Optional[str] = None) -> dict:
    """Load ``checkpoint`` (a path, a URL, or a checkpoint dict already read) into
    ``module``, non-strictly. Files are read by :func:`mmsola.checkpoint.load_checkpoint_dict`
    (weights-only; a damaged or refused file raises its ``CheckpointError``).

    Keys under ``prefix`` (e.g. ``'backbone.'`` for a classifier checkpoint) are used with the
    prefix removed; tensors whose shape differs are skipped. The share of the module's keys
    (BN step counters aside) that were loaded is logged through mmengine's current logger,
    with the missing, unexpected and shape-mismatched keys.

    Returns:
        dict with ``matched``, ``total``, ``missing``, ``unexpected``, ``mismatched``.

    Args:
        name: how the messages call a checkpoint given as a dict (default: the path).

    Raises:
        RuntimeError: the checkpoint matches none of the module's keys (a wrong prefix or a
            checkpoint of another model); the message names a few expected and found keys.
    """
    from mmengine.logging import print_log
    if isinstance(checkpoint, dict):
        ckpt, checkpoint = checkpoint, name or 'the checkpoint'
    else:
        ckpt = load_checkpoint_dict(checkpoint, map_location=map_location)
    state_dict = state_dict_of(ckpt, str(checkpoint))
    found = list(state_dict)
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'  # as the messages show it
        state_dict = select_prefix(state_dict, prefix)

    model = type(module).__name__
    own = module.state_dict()
    diff = diff_keys(own, state_dict, optional=BN_COUNTERS)
    if not diff.matched:  # before loading: the load hooks check more
        raise RuntimeError(
            f'checkpoint {checkpoint} matches none of the {diff.total} keys of {model} '
            f'(prefix={prefix!r}, {len(state_dict)} keys under it, {len(diff.mismatched)} of '
            f'them with a right name but another shape, e.g. {diff.shape_lines()[:2]}); '
            f'expected keys like {[k for k in own if not k.endswith(BN_COUNTERS)][:4]}, '
            f'found keys like {found[:4]}')
    mismatched = {k for k, _, _ in diff.mismatched}
    result = module.load_state_dict(drop_keys(state_dict, mismatched), strict=False)
    # missing and unused after the load hooks (which may rename the keys of older versions)
    diff.missing = [k for k in result.missing_keys
                    if not k.endswith(BN_COUNTERS) and k not in mismatched]
    diff.unexpected = list(result.unexpected_keys)
    share = 100. * diff.matched / diff.total
    print_log(f'{model}: loaded {diff.matched}/{diff.total} keys ({share:.1f}%) from '
              f'{checkpoint} (prefix={prefix!r})', logger='current')
    if diff:
        print_log(diff.message(f'{model}: {checkpoint} (prefix={prefix!r}) differs',
                               'Missing and other-shape keys keep their initial values; '
                               'unexpected ones are ignored.'),
                  logger='current', level=logging.WARNING)
    return dict(matched=diff.matched, total=diff.total, missing=diff.missing,
                unexpected=diff.unexpected, mismatched=[k for k, _, _ in diff.mismatched])
