"""What ``tools/train.py`` does: its command line, the checks before anything is built, and
the run through mmengine's Runner (``python tools/train.py -h``).

Before anything is built, the config, its datasets, its pretrained backbone and the
checkpoint to resume or load from are checked, and that the work dir can be written; a
problem raises one of :data:`RUN_USER_ERRORS` and leaves the work dir as it was.
"""
import argparse
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from mmsola.apis.checkpoint_checks import (
    CheckpointError,
    adopt_resumed_seed,
    check_checkpoint,
    check_pretrained,
    resolve_resume,
)
from mmsola.apis.cli import UserError, run_tool
from mmsola.apis.config import ConfigError, load_config, set_work_dir
from mmsola.apis.dataset_checks import DatasetNotFoundError, check_datasets
from mmsola.apis.launcher import (
    LauncherError,
    add_launcher_args,
    build_runner,
    export_local_rank,
    setup_launcher,
)
from mmsola.apis.run_errors import naming_empty_images
from mmsola.utils import OutputPathError, check_writable

# what the checks before a run raise; a ValueError of the training or test loop keeps its
# traceback (the data and loss errors a run meets are named by run_tool)
RUN_USER_ERRORS = (UserError, ConfigError, DatasetNotFoundError, CheckpointError, LauncherError,
                   OutputPathError)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """``tools/train.py``'s arguments (``sys.argv[1:]`` when ``argv`` is None)."""
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
    """``--amp``: mmengine's AmpOptimWrapper on a CUDA GPU; on a CPU machine, where it refuses
    to build, mmsola's bf16 autocast wrapper."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        print_log('--amp without CUDA: bf16 autocast on the CPU (CPUAutocastOptimWrapper)',
                  logger='current')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config (everything but the launcher)."""
    set_work_dir(cfg, args.work_dir, args.config)
    check_writable(cfg.work_dir, 'the work dir')
    if args.amp:
        set_amp(cfg)
    if args.auto_scale_lr:
        if not (cfg.get('auto_scale_lr') or {}).get('base_batch_size'):
            raise ConfigError(
                f'--auto-scale-lr: {args.config} has no auto_scale_lr.base_batch_size (the '
                'total batch size its lr is set for). Add auto_scale_lr = dict(enable=False, '
                'base_batch_size=N) to the config.')
        cfg.auto_scale_lr.enable = True
    resume = args.resume
    if resume is None and cfg.get('resume'):  # resume=True in the config, as mmengine reads it
        resume = cfg.get('load_from') or 'auto'
    resume_from = resolve_resume(cfg, resume)
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, resume_from
    else:
        cfg.resume = False
        if resume == 'auto':
            print_log(f'--resume: no checkpoint in {cfg.work_dir} yet, starting a new run',
                      logger='current')
    return cfg


def check_inputs(cfg: Config) -> None:
    """Datasets, pretrained backbone, and the checkpoint to resume or load from (whose seed a
    resumed run without one takes)."""
    check_datasets(cfg, ('train', 'val'))
    check_pretrained(cfg)
    if cfg.get('load_from'):
        what = '--resume' if cfg.resume else 'load_from'
        check_checkpoint(cfg, cfg.load_from, what=what, resume=cfg.resume)
        adopt_resumed_seed(cfg)


def run(args: argparse.Namespace):
    """Train; returns the trained model (as ``Runner.train``). Raises
    :data:`RUN_USER_ERRORS` before anything is built."""
    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    check_inputs(cfg)
    setup_launcher(cfg, args.launcher)
    with naming_empty_images(cfg):
        return build_runner(cfg).train()


def main(argv: Optional[List[str]] = None) -> int:
    """``tools/train.py``: exit status 0, or 2 with one ``train.py: error:`` line."""
    args = parse_args(argv)
    return run_tool('train.py', lambda: run(args), RUN_USER_ERRORS)
