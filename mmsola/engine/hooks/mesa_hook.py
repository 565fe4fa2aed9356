"""MESA: self-distillation from the EMA model, the term of MLLA's ImageNet recipe.

MLLA's ``main.py`` (``AUG.MESA``; cfgs/mlla_{t,s,b}.yaml set 1.0 / 1.5 / 2.0) trains, from
epoch ``int(0.25 * epochs)`` on, with

    loss = CE(logits, targets) + w * CE(logits, softmax(ema_logits))

where ``ema_logits`` is the EMA model's output on the same (Mixup/CutMix-mixed) batch, in
eval mode and without gradient, and CE is the soft-target cross entropy
``mean_n(-sum_c p[n, c] * log_softmax(logits)[n, c])`` (the second term has no label
smoothing: smoothing lives in the mixed targets of the first).

:class:`MESAHook` adds that term to an mmpretrain ``ImageClassifier``'s training loss. Its
teacher is the EMA model that mmengine's :class:`~mmengine.hooks.EMAHook` keeps (the config
must have one); the student's logits are the ones its head computes for the first term (no
second forward). The term is computed inside the model's forward (torch module hooks), so the
loss reaches ``OptimWrapper.update_params`` (AMP scaling, clipping, accumulation) and DDP's
backward like the model's own loss; it is logged as ``loss_mesa``.
"""
import logging
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.hooks import EMAHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop
from torch import nn


def soft_target_cross_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``mean_n(-sum_c probs[n, c] * log_softmax(logits)[n, c])``, in float32 at least.

    Args:
        logits: ``(N, C)`` student scores (any float dtype; autocast gives fp16 / bf16).
        probs: ``(N, C)`` target distribution per row.

    Returns:
        A scalar tensor (float32, or float64 for float64 logits).
    """
    dtype = torch.promote_types(logits.dtype, torch.float32)
    log_probs = F.log_softmax(logits.to(dtype), dim=-1)
    return -(probs.to(dtype) * log_probs).sum(dim=-1).mean()


@HOOKS.register_module()
class MESAHook(Hook):
    """Adds ``weight * CE(logits, softmax(EMA logits))`` to the training loss from
    ``int(begin_ratio * max_epochs)`` on (iterations for iteration-based loops).

    Needs mmengine's ``EMAHook`` in the same run (the teacher) and a classifier whose ``head``
    returns the ``(N, num_classes)`` logits, as mmpretrain's ``ImageClassifier`` does. In a
    config::

        custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
                        dict(type='MESAHook', weight=1.0)]

    Args:
        weight (float): w of the term (MLLA-T / S / B: 1.0 / 1.5 / 2.0).
        begin_ratio (float): the share of the run before the term starts (MLLA: 0.25).
        loss_name (str): key of the term in the loss dict (must contain 'loss', so that
            mmengine adds it to the total).
    """

    priority = 'NORMAL'

    def __init__(self, weight: float, begin_ratio: float = 0.25, loss_name: str = 'loss_mesa'):
        if not weight > 0:
            raise ValueError(f'MESAHook: weight must be > 0, got {weight!r}; to train '
                             'without the term, leave the hook out of custom_hooks')
        if not 0 <= begin_ratio < 1:
            raise ValueError(f'MESAHook: begin_ratio must be in [0, 1), got {begin_ratio!r}')
        if 'loss' not in loss_name:
            raise ValueError(f"MESAHook: loss_name {loss_name!r} must contain 'loss', or "
                             'mmengine leaves it out of the total loss')
        self.weight = float(weight)
        self.begin_ratio = float(begin_ratio)
        self.loss_name = loss_name
        self.active = False  # the term is added to this iteration's loss
        self._by_epoch = True
        self._begin = 0
        self._ema = None
        self._handles = []
        self._capture = False  # inside a training forward in 'loss' mode
        self._logits: Optional[torch.Tensor] = None

    # ------------------------------------------------------------------ runner hooks
    def before_train(self, runner) -> None:
        """Find the EMA teacher and hook the student's forward and head (after EMAHook's
        ``before_run`` made its copy, so the copy carries no hooks of ours)."""
        ema_hooks = [h for h in runner.hooks if isinstance(h, EMAHook)]
        if len(ema_hooks) != 1:
            raise ValueError(
                f'MESAHook distils from the EMA model of mmengine\'s EMAHook; the run has '
                f'{len(ema_hooks)} EMAHooks. Add exactly one to custom_hooks, e.g. '
                "dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL').")
        self._ema = ema_hooks[0].ema_model
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        if not isinstance(head, nn.Module):
            raise TypeError(f'MESAHook needs a classifier with a `head` module that returns '
                            f'the logits (mmpretrain ImageClassifier); got '
                            f'{type(model).__name__} without one')
        if int(self._ema.steps) == 0:
            # EMAHook copied the model in before_run, before the runner's init_weights; its
            # first update copies the model anyway, so syncing now only fixes the teacher of
            # a term active from the first iteration.
            self._ema.module.load_state_dict(model.state_dict())

        self._by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        total = runner.max_epochs if self._by_epoch else runner.max_iters
        self._begin = int(self.begin_ratio * total)
        unit = 'epoch' if self._by_epoch else 'iteration'
        print_log(f'MESAHook: loss += {self.weight} * CE(logits, softmax(EMA logits)) from '
                  f'{unit} {self._begin + 1} of {total} on', logger='current')
        self._remove_handles()
        self._handles = [
            model.register_forward_pre_hook(self._start_forward, with_kwargs=True),
            head.register_forward_hook(self._keep_logits),
            model.register_forward_hook(self._add_term, with_kwargs=True),
        ]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        now = runner.epoch if self._by_epoch else runner.iter
        active = now >= self._begin
        if active and not self.active:
            print_log(f'MESAHook: the term is on from {"epoch" if self._by_epoch else "iteration"} '
                      f'{now + 1}', logger='current', level=logging.INFO)
        self.active = active

    def after_train(self, runner) -> None:
        self._remove_handles()
        self.active = False

    # ------------------------------------------------------------------ torch module hooks
    def _start_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        mode = kwargs.get('mode', args[2] if len(args) > 2 else 'tensor')
        self._capture = self.active and module.training and mode == 'loss'
        self._logits = None

    def _keep_logits(self, module: nn.Module, args: tuple, output) -> None:
        if self._capture:
            self._logits = output

    def _add_term(self, module: nn.Module, args: tuple, kwargs: dict, output):
        if not self._capture:
            return None
        self._capture = False
        logits, self._logits = self._logits, None
        if not (isinstance(logits, torch.Tensor) and logits.dim() == 2):
            raise TypeError(f'MESAHook: the head of {type(module).__name__} should return '
                            f'(N, num_classes) logits, got {type(logits).__name__}'
                            f'{tuple(logits.shape) if isinstance(logits, torch.Tensor) else ""}')
        inputs = kwargs['inputs'] if 'inputs' in kwargs else args[0]
        losses = dict(output)
        losses[self.loss_name] = self.weight * soft_target_cross_entropy(
            logits, self.teacher_probs(inputs))
        return losses

    @torch.no_grad()
    def teacher_probs(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` softmax of the EMA model's logits on the ``(N, 3, H, W)`` batch, in eval
        mode (no drop path, BN running statistics) as MLLA's EMA model runs."""
        teacher = self._ema.module
        was_training = teacher.training
        teacher.eval()
        try:
            logits = teacher(inputs, mode='tensor')
        finally:
            teacher.train(was_training)
        return logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=-1)

    def _remove_handles(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
