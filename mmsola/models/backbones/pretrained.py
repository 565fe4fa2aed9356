"""Load pretrained weights into a module and report how much of it they cover."""
import logging
from collections import OrderedDict
from typing import Optional, Union

from torch import nn

# BN step counters: not weights, and they would match any BN layer of the same name.
_COUNTERS = 'num_batches_tracked'


def strip_prefix(state_dict: dict, prefix: str) -> OrderedDict:
    """Keep the keys under ``prefix`` (without it), carrying the ``_metadata`` along.

    The metadata holds each module's ``version`` (and SoLAVision's RoPE layout), which the
    load hooks (``_version``) need. ``prefix`` ends with a dot.
    """
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        root = prefix[:-1]
        out._metadata = OrderedDict(
            ('' if k == root else k[len(prefix):], v) for k, v in metadata.items()
            if k == root or k.startswith(prefix))
    return out


def load_pretrained(module: nn.Module, checkpoint: Union[str, dict],
                    prefix: Optional[str] = None, map_location: str = 'cpu',
                    name: Optional[str] = None) -> dict:
    """Load ``checkpoint`` (a path, a URL, or a checkpoint dict already read) into
    ``module``, non-strictly. Files are read by :func:`mmsola.utils.load_checkpoint_dict`
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

    from mmsola.utils.checkpoint_file import load_checkpoint_dict
    if isinstance(checkpoint, dict):
        ckpt, checkpoint = checkpoint, name or 'the checkpoint'
    else:
        ckpt = load_checkpoint_dict(checkpoint, map_location=map_location)
    state_dict = ckpt
    if isinstance(ckpt, dict):
        for key in ('state_dict', 'model'):
            if key in ckpt and isinstance(ckpt[key], dict):
                state_dict = ckpt[key]
                break
    if not isinstance(state_dict, dict):
        raise RuntimeError(f'{checkpoint} holds no state dict (got {type(state_dict)})')
    found = list(state_dict)
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state_dict = strip_prefix(state_dict, prefix)

    name = type(module).__name__
    own = {k: v for k, v in module.state_dict().items() if not k.endswith(_COUNTERS)}
    mismatched = [k for k, v in state_dict.items()
                  if k in own and hasattr(v, 'shape') and v.shape != own[k].shape]
    examples = [f'{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
                for k in mismatched[:2]]
    for k in mismatched:
        del state_dict[k]
    if not any(k in own for k in state_dict):  # before loading: the load hooks check more
        raise RuntimeError(
            f'checkpoint {checkpoint} matches none of the {len(own)} keys of {name} '
            f'(prefix={prefix!r}, {len(state_dict) + len(mismatched)} keys under it, '
            f'{len(mismatched)} of them with a right name but another shape, e.g. {examples}); '
            f'expected keys like {list(own)[:4]}, found keys like {found[:4]}')
    result = module.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if k in own]
    unexpected = list(result.unexpected_keys)
    matched = len(own) - len(missing)
    share = 100. * matched / len(own)
    print_log(f'{name}: loaded {matched}/{len(own)} keys ({share:.1f}%) from {checkpoint}'
              f' (prefix={prefix!r})', logger='current')
    level = logging.WARNING if missing or unexpected or mismatched else logging.INFO
    for label, keys in (('missing (kept at init)', missing), ('unexpected (ignored)',
                        unexpected), ('shape mismatch (kept at init)', mismatched)):
        if keys:
            more = f' ... (+{len(keys) - 8})' if len(keys) > 8 else ''
            print_log(f'{name}: {len(keys)} {label} keys: {keys[:8]}{more}',
                      logger='current', level=level)
    return dict(matched=matched, total=len(own), missing=missing, unexpected=unexpected,
                mismatched=mismatched)
