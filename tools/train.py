#!/usr/bin/env python
"""Train a model from an mmsola config, in mmdet, mmseg or mmpretrain (by its default_scope).

    python tools/train.py configs/upernet_sola_t_ade20k.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

Before anything is built, the config, its datasets, its pretrained backbone and the
checkpoint to resume or load from are checked, and that the work dir can be written; a
problem ends the run with one message (exit status 2) and leaves the work dir as it was.
What the run meets later ends it with one message too (exit status 2): a damaged image, an
empty training set or labels outside the classes (DatasetCheckHook), a loss that is not
finite (FiniteLossHook; the last good checkpoint is kept).
"""
import argparse
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from mmsola.checks import ConfigError, adopt_resumed_seed, check_run, load_config, resolve_resume
from mmsola.checks.config import set_work_dir
from mmsola.checks.run_errors import naming_empty_images
from mmsola.cli import run_tool
from mmsola.launcher import add_launcher_args, build_runner, export_local_rank, setup_launcher


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='train.py', description='Train a model from an mmsola config, in mmdet, mmseg '
        'or mmpretrain (by its default_scope).')
    parser.add_argument('config', help='config file, e.g. configs/sola_t_in1k.py')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CKPT',
        help='continue a run: from CKPT, or without a value from the latest checkpoint in '
        'the work dir (a fresh start when there is none)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: fp16 autocast with dynamic loss '
                        'scaling on a CUDA GPU (AmpOptimWrapper), bf16 autocast on a machine '
                        'without one (CPUAutocastOptimWrapper)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the lr by the total batch size / the config's "
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. train_cfg.max_iters=1000')
    add_launcher_args(parser, 'tools/dist_train.sh')
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def set_amp(cfg: Config) -> None:
    """mmengine's AmpOptimWrapper on a CUDA GPU; on a CPU machine, where it refuses to build,
    mmsola's bf16 autocast wrapper."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        print_log('--amp without CUDA: bf16 autocast on the CPU (CPUAutocastOptimWrapper)',
                  logger='current')


def set_resume(cfg: Config, resume) -> None:
    """``cfg.resume`` and ``cfg.load_from`` from ``--resume`` (or the config's
    ``resume=True``, as mmengine reads it)."""
    if resume is None and cfg.get('resume'):
        resume = cfg.get('load_from') or 'auto'
    resume_from = resolve_resume(cfg, resume)
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, resume_from
        return
    cfg.resume = False
    if resume == 'auto':
        print_log(f'--resume: no checkpoint in {cfg.work_dir} yet, starting a new run',
                  logger='current')


def train(args: argparse.Namespace):
    """The run; returns the trained model (as ``Runner.train``)."""
    cfg = load_config(args.config, args.cfg_options)
    set_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        set_amp(cfg)
    if args.auto_scale_lr:
        if not (cfg.get('auto_scale_lr') or {}).get('base_batch_size'):
            raise ConfigError(
                f'--auto-scale-lr: {args.config} has no auto_scale_lr.base_batch_size (the '
                'total batch size its lr is set for). Add auto_scale_lr = dict(enable=False, '
                'base_batch_size=N) to the config.')
        cfg.auto_scale_lr.enable = True
    set_resume(cfg, args.resume)

    check_run(cfg, 'train', launcher=args.launcher)
    adopt_resumed_seed(cfg)  # a resumed run without a seed takes the one it continues

    setup_launcher(cfg, args.launcher)
    with naming_empty_images(cfg):
        return build_runner(cfg).train()


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('train.py', lambda: train(args))


if __name__ == '__main__':
    sys.exit(main())
