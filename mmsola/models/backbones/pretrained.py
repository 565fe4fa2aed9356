"""Load pretrained weights into a module and report how much of it they cover."""
import logging
from typing import Optional, Union

from torch import nn

from mmsola.checkpoint import (
    BN_COUNTERS,
    FOREIGN_CONFIG_CLASSES,
    diff_keys,
    drop_keys,
    fetch_checkpoint,
    is_remote,
    is_url,
    load_checkpoint_dict,
    read_checkpoint,
    select_prefix,
    state_dict_of,
)


def read_pretrained(checkpoint: str, map_location: str = 'cpu') -> dict:
    """A ``Pretrained`` checkpoint as a dict: an ``http(s)://`` URL is downloaded once into
    torch's hub cache (:func:`mmsola.checkpoint.fetch_checkpoint`), a local file read
    weights-only with foreign training scripts' config objects as data (MLLA's), other
    ``scheme://`` paths go to mmengine's loaders."""
    if is_url(checkpoint):
        checkpoint = fetch_checkpoint(checkpoint)
    if is_remote(checkpoint):
        return load_checkpoint_dict(checkpoint, map_location=map_location)
    return read_checkpoint(checkpoint, config_classes=FOREIGN_CONFIG_CLASSES)


def load_pretrained(module: nn.Module, checkpoint: Union[str, dict],
                    prefix: Optional[str] = None, map_location: str = 'cpu',
                    name: Optional[str] = None) -> dict:
    """Load ``checkpoint`` (a path, a URL, or a checkpoint dict already read) into
    ``module``, non-strictly. Files are read by :func:`read_pretrained` (weights-only; a
    damaged or refused file, or a URL that cannot be fetched, raises its
    ``CheckpointError``).

    A foreign checkpoint (recognised by its content, e.g. MLLA's classifier or downstream file:
    :mod:`mmsola.models.foreign_checkpoints`) given to a SoLAVision is converted in memory for
    the module's arch and layer pattern (logged) and its backbone loaded, whatever ``prefix``
    says.

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
        ckpt = read_pretrained(checkpoint, map_location=map_location)
    from ..foreign_checkpoints import foreign_checkpoint_of
    from .sola_vision import SoLAVision
    foreign = foreign_checkpoint_of(ckpt)
    if foreign is not None and isinstance(module, SoLAVision):
        state_dict = foreign.convert_for_backbone(ckpt, module, str(checkpoint))
        found, prefix = list(state_dict), None
    else:
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
