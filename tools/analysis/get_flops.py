#!/usr/bin/env python
"""Parameters and FLOPs of SoLA-Vision models, with the attention matrix products counted.

    python tools/analysis/get_flops.py --arch tiny small base --shape 224 224
    python tools/analysis/get_flops.py --config configs/upernet_sola_t_ade20k.py
    python tools/analysis/get_flops.py --config configs/*.py        # the config table

``--arch`` counts the ImageNet classifier (backbone, global average pool, linear head with
``--num-classes``; the parameters of SoLAVisionCls). ``--config`` counts the whole model of a
config in its toolkit's tensor mode (the inference network, no post-processing) at the
config's test size unless ``--shape`` is given: a classifier with its head, a segmentor's
backbone + decode head (the auxiliary head is training-only: its parameters are in the
params column, not in the FLOPs), a two-stage detector's backbone, neck, RPN head and RoI
heads on a fixed set of ``test_cfg.rpn.max_per_img`` proposals (mask head on the first 100,
as mmdet's tensor mode does). One multiply-add is one flop (mmengine.analysis, as fvcore).

The counting lives in :mod:`mmsola.analysis.flops`; every run checks the traced attention of
each SoLAVision against a hand count of the formulas and stops if they disagree. Exit status
0, or 2 with one ``get_flops.py: error:`` line.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmsola.analysis.flops import format_config_table, format_table, report, report_config
from mmsola.cli import run_tool


def parse_args():
    parser = argparse.ArgumentParser(prog='get_flops.py', description=__doc__.split('\n')[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--arch', nargs='+', default=None,
                      choices=['tiny', 'small', 'base', 't', 's', 'b'],
                      help='backbone presets, counted as the ImageNet classifier '
                      '(default: tiny)')
    what.add_argument('--config', nargs='+', default=None,
                      help='config files: the whole detector / segmentor / classifier')
    parser.add_argument('--shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='input size (default: 224 224 with --arch, the test size of '
                        'each config with --config)')
    parser.add_argument('--layer-pattern', default=None,
                        help="with --arch: override the pattern, stages separated by '/', "
                        'e.g. LL/LLLL/LLLSLLLS/LLLS')
    parser.add_argument('--num-classes', type=int, default=1000,
                        help='with --arch: classes of the linear head (0: backbone only)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='with --config: overrides, key=value (dotted keys)')
    args = parser.parse_args()
    if args.config is None:
        if args.cfg_options:
            parser.error('--cfg-options needs --config')
        args.arch = args.arch or ['tiny']
    elif args.layer_pattern:
        parser.error('--layer-pattern goes with --arch; with --config set '
                     'model.backbone.layer_pattern through --cfg-options')
    return args


def get_flops(args: argparse.Namespace) -> None:
    """Count and print the table."""
    if args.config:  # a missing or unusable config (ConfigError), no test size: ValueError
        rows = [report_config(c, args.shape, args.cfg_options) for c in args.config]
        print(format_config_table(rows))
    else:
        shape = args.shape or (224, 224)
        rows = [report(a, shape, args.layer_pattern, args.num_classes) for a in args.arch]
        print(format_table(rows))
    print('\nFLOPs: multiply-adds (mmengine.analysis, as fvcore) of one image; attention '
          'products included and equal to the hand count.')


def main() -> int:
    args = parse_args()
    return run_tool('get_flops.py', lambda: get_flops(args))


if __name__ == '__main__':
    sys.exit(main())

