#!/usr/bin/env python
"""Export SoLA-Vision to ONNX (dynamic batch, H, W) and verify it in ONNX Runtime.

    python tools/deployment/export_onnx.py --arch tiny [CKPT] --shape 224 224 --out sola_t.onnx
    python tools/deployment/export_onnx.py configs/upernet_sola_t_ade20k.py [CKPT] \\
        --shape 512 512 --out upernet_sola_t.onnx
    python tools/deployment/export_onnx.py configs/sola_t_in1k.py --shape 224 224 --out cls.onnx
    python tools/deployment/export_onnx.py configs/mask_rcnn_sola_t_fpn_1x_coco.py \\
        --part features --shape 800 1216 --out mask_rcnn_features.onnx

After the export the file goes through onnx's checker and a check that every node is in a
standard ONNX domain; then ONNX Runtime (CPU) and PyTorch run it at the export size and at a
second size (--verify-shape, default an odd size near 3/4 H x 5/4 W), and the max abs /
relative error and the latency of both are printed. A relative error above --rtol exits with
status 1; input the export cannot work with (a missing package, a checkpoint of another model,
a detector's whole model) with status 2. Needs the deploy extra: pip install "mmsola[deploy]".
"""
import argparse
import os
import sys
from typing import List

from mmengine.config import DictAction

from mmsola.cli import error_line, run_tool
from mmsola.deploy.onnx_export import MIN_SIZE, second_shape


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='export_onnx.py', description='Export a SoLA-Vision backbone, segmentor or '
        'classifier to ONNX with dynamic batch, height and width, and check it in ONNX Runtime '
        'against PyTorch.')
    parser.add_argument('inputs', nargs='*', metavar='CONFIG|CKPT',
                        help='CONFIG [CKPT], or with --arch just [CKPT]; without a checkpoint '
                        'the weights are random (fine for checking the export and latency)')
    parser.add_argument('--arch', help='export a bare SoLAVision backbone of this arch '
                        '(tiny, small, base) instead of a config, all four stage outputs')
    parser.add_argument('--layer-pattern', help="with --arch: one string per stage joined by "
                        "'/', e.g. LL/LLLL/LLLSLLLS/LLLS")
    parser.add_argument('--hsb', action='store_true', help='with --arch: build with the HSB')
    parser.add_argument('--part', choices=('model', 'features'), default='model',
                        help="with a config: the whole model in inference mode (segmentor "
                        "logits at the input size, classifier scores), or 'features' "
                        '(backbone + neck maps; the only choice for detectors)')
    parser.add_argument('--shape', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='image size of the export trace (>= 33) and of the first check; '
                        'the exported file runs any size')
    parser.add_argument('--verify-shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='the second check size (default: about 3H/4 x 5W/4, odd)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--opset', type=int, default=None, help='ONNX opset (default 20)')
    parser.add_argument('--batch', type=int, default=1, help='batch of the checks')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='max allowed max|ort - torch| / max|torch| per output')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed runs per size and runtime (median reported)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for both runtimes (default: torch\'s default)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the ONNX Runtime check (the checker still runs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)

    if args.arch is None and not args.inputs:
        parser.error('give a CONFIG file or --arch tiny|small|base')
    max_inputs = 1 if args.arch else 2
    if len(args.inputs) > max_inputs:
        parser.error(f'too many positional arguments {args.inputs}: expected '
                     + ('[CKPT] with --arch' if args.arch else 'CONFIG [CKPT]'))
    if args.arch is None and (args.layer_pattern or args.hsb):
        parser.error('--layer-pattern and --hsb go with --arch; set them in the config '
                     '(or --cfg-options model.backbone.layer_pattern=...)')
    if args.arch and (args.part != 'model' or args.cfg_options):
        parser.error('--part and --cfg-options go with a CONFIG, not --arch')
    for name, least in (('shape', MIN_SIZE), ('verify_shape', 1)):
        value = getattr(args, name)
        if value is not None and min(value) < least:
            parser.error(f'--{name.replace("_", "-")} needs H and W >= {least}, got {value}')
    if args.verify_shape is not None and tuple(args.verify_shape) == tuple(args.shape):
        parser.error('--verify-shape must differ from --shape')
    if args.batch < 1 or args.repeats < 0:
        parser.error('--batch must be >= 1 and --repeats >= 0')
    if args.arch:
        args.config, args.checkpoint = None, (args.inputs or [None])[0]
    else:
        args.config, args.checkpoint = args.inputs[0], (args.inputs[1:] or [None])[0]
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint!r} does not exist')
    return args


def export(args: argparse.Namespace):
    """Build the target, export it to ``args.out`` and check the file; print what was
    written. Returns (target module, output names)."""
    from mmsola.deploy import DEFAULT_OPSET, export_onnx, require_deploy_deps
    from mmsola.deploy.targets import build_target
    from mmsola.utils import check_writable

    check_writable(args.out, '--out', folder=False)
    versions = require_deploy_deps()
    backbone_args = {}
    if args.layer_pattern:
        backbone_args['layer_pattern'] = args.layer_pattern
    if args.hsb:
        backbone_args['hsb'] = True
    target, names, meta = build_target(args.config, args.arch, args.checkpoint,
                                       args.part, args.cfg_options, **backbone_args)
    opset = args.opset or DEFAULT_OPSET
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    export_onnx(target, tuple(args.shape), args.out, names, opset, metadata=meta)
    size_mb = os.path.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MB, opset {opset}, input "input" '
          f'(batch, 3, height, width) dynamic; outputs {", ".join(names)}; '
          f'onnx {versions["onnx"]}, onnxruntime {versions["onnxruntime"]})')
    pre = {k: meta[k] for k in ('mean', 'std', 'swap_bgr_rgb') if k in meta}
    if pre:
        print(f'the graph takes preprocessed images: {pre}')
    return target, names


def verify(args: argparse.Namespace, target, names: List[str]) -> int:
    """ONNX Runtime against PyTorch at ``--shape`` and the second size; print the table.
    1 (and one ``error:`` line) if they disagree beyond --rtol."""
    from mmsola.deploy import OnnxMismatchError, format_rows, verify_onnx

    shapes = [tuple(args.shape), tuple(args.verify_shape or second_shape(args.shape))]
    try:
        rows = verify_onnx(target, args.out, names, shapes, batch=args.batch,
                           rtol=args.rtol, repeats=args.repeats, threads=args.threads)
    except OnnxMismatchError as e:  # a result, not a user error
        print(error_line('export_onnx.py', e), file=sys.stderr)
        return 1
    print(f"ONNX Runtime vs PyTorch, batch {args.batch}, {rows[0]['threads']} threads, "
          f'median of {args.repeats} runs:')
    print(format_rows(rows))
    print(f'OK: every output within rel {args.rtol:g}')
    return 0


def run(args: argparse.Namespace) -> int:
    """Export, check and verify; 1 if ONNX Runtime and PyTorch disagree beyond --rtol."""
    target, names = export(args)
    return 0 if args.no_verify else verify(args, target, names)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('export_onnx.py', lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
