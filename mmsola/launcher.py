"""Fit a config's distributed settings to the launcher and the machine, and build its Runner.

The configs are written for GPUs (NCCL, SyncBN, DDP on one device per process). mmengine's
launchers call ``torch.cuda.set_device`` and give DDP a CUDA device id, so on a machine
without CUDA :func:`setup_launcher` starts the process group itself with gloo, lets DDP
work on CPU modules and turns SyncBN into BN (torch's SyncBatchNorm runs on GPUs only).
"""
import argparse
import logging
import os
from datetime import timedelta
from typing import Any

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from mmsola.checks.launcher import LAUNCHERS, LauncherError, check_launcher

_SYNC_BN = ('SyncBN', 'MMSyncBN', 'SyncBatchNorm')


def add_launcher_args(parser: argparse.ArgumentParser, dist_script: str) -> None:
    """``--launcher`` (one of :data:`LAUNCHERS`) and the ``--local-rank`` that
    ``torch.distributed.launch`` passes (``--local_rank`` before torch 2.0)."""
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help=f'job launcher ({dist_script} sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> None:
    """Put the parsed ``--local-rank`` where mmengine's launchers read it (``LOCAL_RANK``),
    unless torchrun has set it already."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))


def _sync_bn_to_bn(node: Any) -> int:
    """Turn every ``type='SyncBN'`` norm in a config tree into ``'BN'``; how many."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in _SYNC_BN:
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _sync_bn_to_bn(value)
    return count


def _cpu_ddp(cfg: Config) -> None:
    """DDP over CPU processes: no device ids; SyncBN becomes per-process BN."""
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    cfg.sync_bn = None
    if _sync_bn_to_bn(cfg.model):
        print_log('no CUDA: SyncBN layers become BN (statistics per process)',
                  logger='current', level=logging.WARNING)


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` and make the distributed run work on this machine.

    With CUDA, mmengine's Runner sets up everything from ``cfg.env_cfg.dist_cfg``. Without
    CUDA, only ``'pytorch'`` (torchrun) works: the gloo process group is started here (the
    Runner then uses it), ``dist_cfg.backend`` becomes ``'gloo'``, DDP gets no device ids
    and SyncBN becomes BN.

    Raises:
        LauncherError: an unknown launcher, the launcher's environment variables are
            missing (the script was not started by it), or ``'slurm'``/``'mpi'`` without CUDA.
    """
    check_launcher(launcher)
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f"no CUDA: distributed backend {dist_cfg.get('backend', 'nccl')!r} -> "
                  "'gloo'", logger='current', level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'
    _cpu_ddp(cfg)
    if not torch.distributed.is_initialized():
        timeout = dist_cfg.get('timeout')
        kwargs = dict(timeout=timedelta(seconds=timeout)) if timeout else {}
        torch.distributed.init_process_group(backend='gloo', **kwargs)


def build_runner(cfg: Config):
    """The config's Runner in its toolkit's scope: ``runner_type`` from the toolkit's
    ``RUNNERS`` registry if the config names one, mmengine's ``Runner`` otherwise."""
    from mmengine.runner import Runner

    from mmsola.checks.config import init_toolkit
    registry = init_toolkit(cfg)
    if 'runner_type' in cfg:
        return registry.RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


__all__ = ['LAUNCHERS', 'LauncherError', 'add_launcher_args', 'export_local_rank',
           'setup_launcher', 'build_runner']
