"""A ``sola_*_in1k`` classifier checkpoint -> the backbone checkpoint of the dense configs
(behind ``tools/model_converters/cls2backbone.py``).

The UperNet and Mask R-CNN configs load the result through their backbone's
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``, every key matched:

* Weights: the exponential moving average when the checkpoint has one (``use_ema=False``: the
  raw training weights). mmengine's ``EMAHook`` swaps the two when it saves: ``state_dict``
  holds the EMA weights and ``ema_state_dict`` the raw ones (as ``module.<key>``).
* Kept: the ``backbone.`` tensors (prefix kept) with their version metadata; dropped: the
  head and anything else outside the backbone.
* Added: the LayerNorm of every stage in ``out_indices`` that the classifier does not have
  (it returns stage 3 only), at the value SoLAVision initialises them with (weight 1, bias 0).
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch

from mmsola.checkpoint import CheckpointError, read_checkpoint, select_prefix, state_dict_of
from mmsola.utils import OutputPathError, check_writable
from mmsola.version import __version__
from .checkpoint_io import ConversionError, save_checkpoint_atomically

PREFIX = 'backbone.'
NUM_STAGES = 4
_NORM_KEY = re.compile(r'^backbone\.norm(\d+)\.weight$')


def select_classifier_weights(ckpt: dict,
                              use_ema: bool = True) -> Tuple[Dict[str, torch.Tensor], str]:
    """The weights of an mmsola classifier checkpoint to convert and which they are (``'ema'``
    or ``'raw'``).

    Follows mmengine's EMAHook, which saves the EMA weights in ``state_dict`` and the raw ones
    under ``ema_state_dict`` as ``module.<key>`` (plus its ``steps`` counter), so the EMA ones
    are the default. (MLLA's files keep the raw ones under ``model``, its default:
    :func:`mmsola.convert.mlla.select_mlla_weights`.)
    """
    state = state_dict_of(ckpt, 'the checkpoint', entries=('state_dict', ))
    ema = ckpt.get('ema_state_dict')
    if ema is None:
        return state, 'raw'
    if use_ema:
        return state, 'ema'
    raw = select_prefix(ema, 'module.')
    raw._metadata = getattr(state, '_metadata', None)  # same modules, same versions
    return raw, 'raw'


def stage_widths(state: Dict[str, torch.Tensor]) -> Tuple[int, ...]:
    """Widths C, 2C, 4C, 8C of the stages, read from the backbone's output norms."""
    found = {int(m.group(1)): state[k].shape[0] for k in state
             for m in [_NORM_KEY.match(k)] if m}
    if not found:
        raise ConversionError('the backbone has no output norm (backbone.norm<i>.weight), '
                              'so its stage widths are unknown; is this a SoLAVision '
                              'classifier checkpoint?')
    stage, width = min(found.items())
    if width % 2**stage:
        raise ConversionError(f'backbone.norm{stage} has width {width}, not a multiple of '
                              f'2**{stage}; not a SoLAVision backbone')
    base = width // 2**stage
    widths = tuple(base * 2**i for i in range(NUM_STAGES))
    wrong = {i: w for i, w in found.items() if widths[i] != w}
    if wrong:
        raise ConversionError(f'output norm widths {found} do not follow C, 2C, 4C, 8C')
    return widths


def backbone_state(state: Dict[str, torch.Tensor],
                   out_indices: Sequence[int] = (0, 1, 2, 3)) -> Tuple[OrderedDict, list]:
    """The ``backbone.`` tensors of a classifier state dict, with the output norms of
    ``out_indices`` the classifier lacks added at their initial value.

    Returns:
        (state dict with the ``backbone.`` prefix and its ``_metadata``, added keys)
    """
    kept = select_prefix(state, PREFIX, strip=False)  # with its version metadata
    if not any(k.startswith(PREFIX + 'stem.') for k in kept):
        raise ConversionError(
            f'no SoLAVision backbone in the checkpoint (no {PREFIX}stem.* keys; found keys '
            f'like {list(state)[:4]}); give a checkpoint of a configs/sola_*_in1k.py run')
    bad = [i for i in out_indices if not 0 <= i < NUM_STAGES]
    if bad:
        raise ConversionError(f'--out-indices {bad} out of range 0..{NUM_STAGES - 1}')
    widths = stage_widths(kept)
    added = []
    dtype = next(v.dtype for k, v in kept.items() if _NORM_KEY.match(k))
    for i in sorted(set(out_indices)):
        key = f'{PREFIX}norm{i}'
        if f'{key}.weight' in kept:
            continue
        kept[f'{key}.weight'] = torch.ones(widths[i], dtype=dtype)
        kept[f'{key}.bias'] = torch.zeros(widths[i], dtype=dtype)
        added += [f'{key}.weight', f'{key}.bias']
    return kept, added


def _check_paths(src: str, dst: str, force: bool) -> None:
    """IN and OUT differ, OUT is new (or ``force``) and can be written."""
    if osp.abspath(src) == osp.abspath(dst):
        raise ConversionError('IN and OUT are the same file; write the backbone elsewhere')
    if osp.exists(dst) and not force:
        raise ConversionError(f'{dst} exists; pass --force to replace it')
    try:
        check_writable(dst, 'OUT', folder=False)
    except OutputPathError as err:
        raise ConversionError(str(err)) from err


def convert(src: str, dst: str, use_ema: bool = True,
            out_indices: Sequence[int] = (0, 1, 2, 3), force: bool = False) -> dict:
    """Convert ``src`` into ``dst`` (written atomically); returns a summary (``kept``,
    ``added``, ``dropped``, ``weights``, ``has_ema``).

    Raises:
        ConversionError: the paths, the file or its weights are not what is needed; nothing
            is written.
    """
    _check_paths(src, dst, force)
    try:
        ckpt = read_checkpoint(src, 'IN')
        state, weights = select_classifier_weights(ckpt, use_ema)
    except CheckpointError as err:
        raise ConversionError(str(err)) from err
    backbone, added = backbone_state(state, out_indices)
    dropped = [k for k in state if not k.startswith(PREFIX)]
    source_meta = ckpt.get('meta') or {}
    meta = dict(converted_from=osp.basename(src), weights=weights, added_keys=added,
                mmsola_version=__version__,
                **{k: source_meta[k] for k in ('epoch', 'iter') if k in source_meta})
    save_checkpoint_atomically(dict(state_dict=backbone, meta=meta), dst)
    return dict(kept=len(backbone) - len(added), added=added, dropped=dropped,
                weights=weights, has_ema='ema_state_dict' in ckpt)
