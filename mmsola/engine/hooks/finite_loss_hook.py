"""Stop training at the first iteration whose loss is NaN or infinite.

Without it, mmseg and mmpretrain train on with NaN weights until the end of the schedule and
save them over the good checkpoints; mmdet's ``CheckInvalidLossHook`` looks only every 50
iterations, with an ``assert`` and on one rank (the other ranks then wait for it in their next
all-reduce). :class:`FiniteLossHook` checks every iteration, in every process together, and
raises :class:`InvalidLossError` naming the iteration, the loss terms and the last good
checkpoint. It runs before the checkpoint hook, so the step whose loss was not finite is never
saved: the work dir keeps the last good checkpoint, and ``last_checkpoint`` names it.
"""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmsola.errors import UserError


class InvalidLossError(UserError, RuntimeError):
    """The training loss turned NaN or infinite; the message says when and what to do."""


def _as_float(value) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def loss_terms(outputs) -> Dict[str, float]:
    """The scalar loss terms of a ``train_step`` output (mmengine's ``log_vars``): the total
    ``loss`` first, then its parts (``loss_cls``, ``decode.loss_ce``, ...)."""
    if not isinstance(outputs, dict):
        return {}
    terms = {k: _as_float(v) for k, v in outputs.items() if 'loss' in k}
    return {k: v for k, v in terms.items() if v is not None}


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise :class:`InvalidLossError` at the first training iteration whose loss is not
    finite, in every process at the same iteration.

    In a config (mmdet, mmseg or mmpretrain)::

        custom_hooks = [dict(type='FiniteLossHook')]

    Its priority (VERY_HIGH) puts it before the checkpoint hook, the EMA hook and the logger
    in ``after_train_iter``.
    """

    priority = 'VERY_HIGH'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        terms = loss_terms(outputs)
        bad_here = any(not math.isfinite(v) for v in terms.values())
        bad_ranks = int(bad_here)
        if get_world_size() > 1:  # every rank must stop together, or the others hang
            flag = torch.tensor([float(bad_here)])
            all_reduce(flag)  # sum over ranks
            bad_ranks = int(flag.item())
        if bad_ranks:
            message = self._message(runner, terms, bad_here, bad_ranks)
            runner.logger.error(message)
            raise InvalidLossError(message)

    @staticmethod
    def _message(runner, terms: Dict[str, float], bad_here: bool, bad_ranks: int) -> str:
        from mmengine.runner import EpochBasedTrainLoop, find_latest_checkpoint
        # the first term that is not finite: the total, or (mmpretrain's head names its term
        # 'loss' too, which hides the total in log_vars) the part that is not
        total = next((v for v in terms.values() if not math.isfinite(v)), float('nan'))
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1})'
        parts = ', '.join(f'{k}={v:.4g}' for k, v in terms.items() if k != 'loss')
        if get_world_size() > 1:
            who = (f'on rank {get_rank()}' if bad_here else f'on {bad_ranks} of '
                   f'{get_world_size()} processes (not this one)')
        else:
            who = ''
        try:
            last = find_latest_checkpoint(runner.work_dir)
        except Exception:  # noqa: BLE001  (an unreadable last_checkpoint: say none)
            last = None
        kept = (f'the last good checkpoint, {last}, is kept: resume from it with --resume'
                if last else 'no checkpoint was saved yet')
        return (f'the training loss is {total} at {where}{" " + who if who else ""}'
                f'{" (" + parts + ")" if parts and bad_here else ""}; training stopped before '
                f'saving this step, and {kept}. Usual causes: a learning rate too high for the '
                'batch size (lower optim_wrapper.optimizer.lr, or --auto-scale-lr), no '
                'gradient clipping (optim_wrapper.clip_grad=dict(max_norm=5.0)), fp16 overflow '
                '(bf16, or no --amp), or bad samples in the data.')
