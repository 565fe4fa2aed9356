#!/usr/bin/env python
"""Inference speed of a config's whole model in images/s, on any device, on one or many
processes.

    python tools/analysis/inference_speed.py configs/upernet_sola_t_ade20k.py [CKPT] [--device cuda]
    torchrun --nproc_per_node 8 tools/analysis/inference_speed.py CONFIG --launcher pytorch

What is timed: ``model.test_step(batch)``, the whole model as the toolkit's test loop runs it:
the data preprocessor (to the device, normalise, pad and stack), the network and the
post-processing (resize back to the image, NMS, masks, class scores), under ``no_grad``, with
the device synchronised around each call. ``--warmup`` untimed calls, then ``--repeats``
timed calls; the median gives images/s = batch size / median time per batch.

What goes in: batches from the config's test pipeline (decode, resize, pack), prepared
before timing (data loading is not timed). From the config's test dataset when it is on
disk; otherwise, or with ``--synthetic``, from random images of the config's test size
(``--shape`` to change it) fed through the same pipeline, only the file and annotation
loading left out. Without CKPT the weights are random (detection post-processing time then
depends on how many boxes random weights propose).

Distributed (``--launcher pytorch|slurm|mpi``): each process measures on its own device (its
own share of the dataset); rank 0 prints each rank and the sum, and writes ``--out``.
The measuring lives in :mod:`mmsola.analysis.inference_speed`. Exit status 0, or 2 with one
``inference_speed.py: error:`` line.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction

from mmsola.analysis.inference_speed import measure_inference_speed, report
from mmsola.cli import run_tool
from mmsola.launcher import add_launcher_args, export_local_rank
from mmsola.utils import AtomicLocalBackend, check_writable


def _check_counts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Counts >= 1 (``--warmup`` >= 0), a positive ``--shape``: argparse errors."""
    for name in ('batch_size', 'repeats', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')


def parse_args():
    parser = argparse.ArgumentParser(
        prog='inference_speed.py', description="Inference speed of a config's whole model in "
        'images/s, on any device, on one or many processes.')
    parser.add_argument('config', help='config file (configs/*.py)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint of that config (default: random weights)')
    parser.add_argument('--device', default=None,
                        help="'cuda' or 'cpu' (default: cuda if available); each distributed "
                        'process takes the GPU of its local rank')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="images per call (default: the config's test batch size)")
    parser.add_argument('--warmup', type=int, default=5, help='untimed calls first')
    parser.add_argument('--repeats', type=int, default=20, help='timed calls (median)')
    parser.add_argument('--max-seconds', type=float, default=None,
                        help='stop the timed calls early after this long (>= 1 is timed)')
    parser.add_argument('--synthetic', action='store_true',
                        help='random images of the test size even if the dataset is there')
    parser.add_argument('--shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help="synthetic image size (default: the config's test size)")
    parser.add_argument('--amp', action='store_true',
                        help='autocast: float16 on CUDA, bfloat16 on the CPU')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of torch (default: left as it is)')
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides, key=value (dotted keys)')
    add_launcher_args(parser, 'torchrun')
    args = parser.parse_args()
    _check_counts(parser, args)
    export_local_rank(args)
    return args


def inference_speed(args: argparse.Namespace) -> None:
    """Measure; on rank 0 print the report and write ``--out``."""
    if args.out:
        check_writable(args.out, '--out', folder=False)
    result = measure_inference_speed(
        args.config, args.checkpoint, cfg_options=args.cfg_options, device=args.device,
        batch_size=args.batch_size, warmup=args.warmup, repeats=args.repeats,
        max_seconds=args.max_seconds, synthetic=args.synthetic, shape=args.shape, amp=args.amp,
        threads=args.threads, launcher=args.launcher)
    if result is None:  # not rank 0
        return
    print(report(result))
    if args.out:
        AtomicLocalBackend().put_text(json.dumps(result, indent=2), args.out)
        print(f'wrote {osp.abspath(args.out)}')


def main() -> int:
    args = parse_args()
    return run_tool('inference_speed.py', lambda: inference_speed(args))


if __name__ == '__main__':
    sys.exit(main())
