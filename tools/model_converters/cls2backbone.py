#!/usr/bin/env python
"""Turn a ``sola_*_in1k`` classifier checkpoint into the backbone checkpoint of the dense
configs.

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
unless ``--force``. The conversion is :func:`mmsola.convert.classifier.convert`.
"""
import argparse
import sys

from mmsola.cli import run_tool
from mmsola.convert.classifier import convert


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='cls2backbone.py', description='Turn a sola_*_in1k classifier checkpoint into '
        'the backbone checkpoint of the dense configs.')
    parser.add_argument('src', metavar='IN', help='checkpoint of a sola_*_in1k run')
    parser.add_argument('dst', metavar='OUT', help='backbone checkpoint to write')
    parser.add_argument('--no-ema', dest='use_ema', action='store_false',
                        help='take the raw training weights, not their moving average')
    parser.add_argument('--out-indices', type=int, nargs='+', default=[0, 1, 2, 3],
                        help='stages whose output norm the dense model has (default: 0 1 2 3)')
    parser.add_argument('--force', action='store_true', help='replace an existing OUT')
    return parser.parse_args(argv)


def print_summary(src: str, dst: str, summary: dict) -> None:
    """Which weights were taken, what was kept, dropped and added, and the file written."""
    if summary['weights'] == 'ema':
        source = 'EMA weights (state_dict, as mmengine EMAHook saves them)'
    elif summary['has_ema']:
        source = 'raw training weights (--no-ema; from ema_state_dict, as EMAHook saves them)'
    else:
        source = 'raw training weights (the checkpoint has no ema_state_dict)'
    dropped = summary['dropped']
    print(f'{src}: {source}')
    print(f'kept {summary["kept"]} backbone tensors, dropped {len(dropped)} '
          f'(head and others: {", ".join(dropped[:4])}{", ..." if len(dropped) > 4 else ""})')
    if summary['added']:
        print(f'added {len(summary["added"])} output-norm tensors at their initial value '
              f'(the classifier has no such stage output): {", ".join(summary["added"])}')
    print(f'wrote {dst}')


def run(args: argparse.Namespace) -> dict:
    """Convert and print the summary; returns it (:func:`mmsola.convert.classifier.convert`).
    Raises ``ConversionError`` for a file that cannot be converted."""
    summary = convert(args.src, args.dst, args.use_ema, args.out_indices, args.force)
    print_summary(args.src, args.dst, summary)
    return summary


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('cls2backbone.py', lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
