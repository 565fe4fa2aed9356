"""Turn a ``sola_*_in1k`` classifier checkpoint into the backbone checkpoint of the dense configs.

    python tools/model_converters/cls2backbone.py \\
        work_dirs/sola_t_in1k/best_accuracy_top1_epoch_300.pth checkpoints/sola_t_in1k_backbone.pth

The UperNet and Mask R-CNN configs load the result through their backbone's
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``, every key matched:

* Weights: the exponential moving average when the checkpoint has one (``--no-ema``: the raw
  training weights). mmengine's ``EMAHook`` swaps the two when it saves: ``state_dict`` holds
  the EMA weights and ``ema_state_dict`` the raw ones (as ``module.<key>``). A checkpoint
  without ``ema_state_dict`` has only raw weights, and the tool says so.
* Kept: the ``backbone.`` tensors (prefix kept) with their version metadata; dropped: the
  head and anything else outside the backbone.
* Added: the LayerNorm of every stage in ``--out-indices`` (default 0 1 2 3, the dense
  configs' outputs) that the classifier does not have (it returns stage 3 only), at the value
  SoLAVision initialises them with (weight 1, bias 0). Loading the file is then exactly what
  loading the classifier's backbone into a fresh dense backbone gives, with no missing key
  left to hide a real mismatch. The added keys are listed in the output and in ``meta``.

The file is written atomically (temporary file, fsync, rename); an existing OUT is kept
unless ``--force``.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import torch

import mmsola  # noqa: F401  (lets torch's weights-only loader read mmengine checkpoints)
from mmsola.apis.cli import USER_ERROR_STATUS, error_line
from mmsola.checkpoint import CheckpointError, read_checkpoint, select_prefix, state_dict_of
from mmsola.convert import ConversionError, save_checkpoint_atomically
from mmsola.utils import OutputPathError, check_writable

PREFIX = 'backbone.'
NUM_STAGES = 4
_NORM_KEY = re.compile(r'^backbone\.norm(\d+)\.weight$')


def select_weights(ckpt: dict, use_ema: bool = True) -> Tuple[Dict[str, torch.Tensor], str]:
    """The classifier weights to convert and which they are (``'ema'`` or ``'raw'``).

    Follows mmengine's EMAHook, which saves the EMA weights in ``state_dict`` and the raw ones
    under ``ema_state_dict`` as ``module.<key>`` (plus its ``steps`` counter).
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


def convert(src: str, dst: str, use_ema: bool = True,
            out_indices: Sequence[int] = (0, 1, 2, 3), force: bool = False) -> dict:
    """Convert ``src`` into ``dst``; returns a summary (``kept``, ``added``, ``dropped``,
    ``weights``)."""
    if osp.abspath(src) == osp.abspath(dst):
        raise ConversionError('IN and OUT are the same file; write the backbone elsewhere')
    if osp.exists(dst) and not force:
        raise ConversionError(f'{dst} exists; pass --force to replace it')
    try:
        check_writable(dst, 'OUT', folder=False)
    except OutputPathError as err:
        raise ConversionError(str(err)) from err
    try:
        ckpt = read_checkpoint(src, 'IN')
        state, weights = select_weights(ckpt, use_ema)
    except CheckpointError as err:
        raise ConversionError(str(err)) from err
    backbone, added = backbone_state(state, out_indices)
    dropped = [k for k in state if not k.startswith(PREFIX)]
    source_meta = ckpt.get('meta') or {}
    meta = dict(converted_from=osp.basename(src), weights=weights, added_keys=added,
                mmsola_version=mmsola.__version__,
                **{k: source_meta[k] for k in ('epoch', 'iter') if k in source_meta})
    save_checkpoint_atomically(dict(state_dict=backbone, meta=meta), dst)
    return dict(kept=len(backbone) - len(added), added=added, dropped=dropped,
                weights=weights, has_ema='ema_state_dict' in ckpt)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', metavar='IN', help='checkpoint of a sola_*_in1k run')
    parser.add_argument('dst', metavar='OUT', help='backbone checkpoint to write')
    parser.add_argument('--no-ema', dest='use_ema', action='store_false',
                        help='take the raw training weights, not their moving average')
    parser.add_argument('--out-indices', type=int, nargs='+', default=[0, 1, 2, 3],
                        help='stages whose output norm the dense model has (default: 0 1 2 3)')
    parser.add_argument('--force', action='store_true', help='replace an existing OUT')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        summary = convert(args.src, args.dst, args.use_ema, args.out_indices, args.force)
    except ConversionError as err:
        print(error_line('cls2backbone.py', err), file=sys.stderr)
        return USER_ERROR_STATUS
    if summary['weights'] == 'ema':
        source = 'EMA weights (state_dict, as mmengine EMAHook saves them)'
    elif summary['has_ema']:
        source = 'raw training weights (--no-ema; from ema_state_dict, as EMAHook saves them)'
    else:
        source = 'raw training weights (the checkpoint has no ema_state_dict)'
    print(f'{args.src}: {source}')
    print(f'kept {summary["kept"]} backbone tensors, dropped {len(summary["dropped"])} '
          f'(head and others: {", ".join(summary["dropped"][:4])}'
          f'{", ..." if len(summary["dropped"]) > 4 else ""})')
    if summary['added']:
        print(f'added {len(summary["added"])} output-norm tensors at their initial value '
              f'(the classifier has no such stage output): {", ".join(summary["added"])}')
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
