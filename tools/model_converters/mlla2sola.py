#!/usr/bin/env python
"""Convert an MLLA checkpoint (github.com/LeapLabTHU/MLLA) into an mmsola checkpoint.

    # ImageNet-1K classifier -> configs/sola_t_in1k.py with the all-'L' pattern (exactly MLLA)
    python tools/model_converters/mlla2sola.py MLLA_T.pth checkpoints/sola_t_mlla_in1k.pth
    # -> the backbone the dense configs' `pretrained` loads
    python tools/model_converters/mlla2sola.py MLLA_T.pth \\
        checkpoints/sola_t_in1k_backbone.pth --backbone-only
    # -> the default hybrid pattern, its 'S' blocks warm-started from MLLA's 'L' blocks
    python tools/model_converters/mlla2sola.py MLLA_T.pth \\
        checkpoints/sola_t_mlla_warm_in1k.pth --pattern default
    # MLLA's Mask R-CNN / UperNet file -> mask_rcnn_sola_t_fpn_1x_coco.py (all 'L')
    python tools/model_converters/mlla2sola.py mlla_t_mrcnn_1x.pth \\
        checkpoints/mask_rcnn_sola_t_mlla_coco.pth

The arch (tiny / small / base = MLLA-T / S / B) is read from the weights; ``--arch`` checks
it. The conversion (:func:`mmsola.convert.mlla.convert_mlla_file`) maps the names, permutes
the qk rows into mmsola's RoPE pairing, folds each downsample's conv bias into its BatchNorm,
drops MLLA's RoPE tables and checks the result against the target model, key by key. The
file is read with weights_only=True (MLLA's yacs config object is read as plain data) and
written atomically.
"""
import argparse
import sys
from typing import List

from mmsola.cli import run_tool
from mmsola.convert.mlla import ConversionReport, convert_mlla_file


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='mlla2sola.py', description='Convert an MLLA checkpoint '
        '(github.com/LeapLabTHU/MLLA) into an mmsola checkpoint.')
    parser.add_argument('src', metavar='SRC', help='MLLA checkpoint (classification or '
                        'mmdet / mmseg)')
    parser.add_argument('dst', metavar='DST', help='mmsola checkpoint to write')
    parser.add_argument('--ema', action='store_true',
                        help="take the EMA weights (state_dict_ema) of an MLLA training file")
    parser.add_argument('--pattern', default=None,
                        help="layer pattern of the target, e.g. 'default' (the arch's hybrid "
                        "pattern) or 'LL/LLLL/LLLSLLLS/LLLS'; 'S' blocks are warm-started "
                        "(default: all 'L', exactly MLLA)")
    parser.add_argument('--backbone-only', action='store_true',
                        help='write only the backbone with all four output norms (what the '
                        "dense configs' `pretrained` loads)")
    parser.add_argument('--arch', choices=['tiny', 'small', 'base'], default=None,
                        help='expected arch (default: read from the weights)')
    parser.add_argument('--force', action='store_true', help='replace an existing DST')
    return parser.parse_args(argv)


def _listing(label: str, keys: List[str], limit: int = 3) -> str:
    more = f', ... (+{len(keys) - limit})' if len(keys) > limit else ''
    return f'{label} {len(keys)}: {", ".join(keys[:limit])}{more}'


def print_report(src: str, dst: str, report: ConversionReport) -> None:
    """What the conversion did: mapped, permuted, folded, dropped, added, kept, warm-started."""
    print(f'{src}: MLLA {report.kind} weights ({report.weights}), arch {report.arch!r}, '
          f'layer pattern {"/".join(report.layer_pattern)}')
    print(f'mapped {report.mapped} backbone tensors (patch_embed -> stem, layers.i -> '
          'stages.i, downsample -> stages.i+1.downsample, mixer names)')
    print(_listing("permuted the qk rows into mmsola's RoPE pairs", report.permuted))
    print(_listing('folded into their BatchNorm running_mean: downsample conv biases',
                   report.folded))
    print(_listing('dropped (RoPE tables, recomputed for any grid; the head with '
                   '--backbone-only)', report.dropped))
    if report.added:
        print(_listing('added at their initial value (output norms MLLA lacks)',
                       report.added))
    if report.kind in ('mmdet', 'mmseg', 'downstream'):
        print(f'kept {len(report.kept)} neck / head tensors as they are' +
              (f', renamed {len(report.renamed)}' if report.renamed else
               ' (their mmdet 3.x / mmseg 1.x names are the same)'))
    if report.warm_started:
        print(_listing("WARM START, fine-tune before use: 'S' blocks initialised from "
                       "their MLLA 'L' block", report.warm_started))
    else:
        print("exact: the all-'L' SoLA-Vision computes what MLLA computes")
    print(f'wrote {dst}')


def run(args: argparse.Namespace) -> ConversionReport:
    """Convert SRC into DST and print the report; returns it. Raises ``ConversionError``
    (nothing written) for a file that cannot be converted."""
    report = convert_mlla_file(args.src, args.dst, force=args.force, use_ema=args.ema,
                               layer_pattern=args.pattern, backbone_only=args.backbone_only,
                               arch=args.arch)
    print_report(args.src, args.dst, report)
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('mlla2sola.py', lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
