"""Checkpoint the random number generators of every rank, so that a resumed run draws what the
uninterrupted run would have drawn (drop path, dropout, Mixup/CutMix, random augmentations).

mmengine 0.10 saves no generator state: a resumed run re-seeds from ``randomness.seed`` and its
drop-path masks (torch), batch augmentations (numpy, torch) and, without dataloader workers,
its data augmentations (numpy, ``random``) differ from the uninterrupted run's from the first
resumed iteration on. :class:`RNGStateHook` keeps, per rank, the torch CPU generator, the
generator of every CUDA device, numpy's global generator and Python's ``random``:

- taken at the end of every training iteration (or epoch) after which a ``CheckpointHook``
  saves, and at the start of every validation (a best-checkpoint save may follow it); every
  rank takes its own and rank 0, which writes the checkpoint, gathers them all into it
  (``checkpoint['rng_state']``, one entry per rank);
- put back just before the next training batch is fetched: on resume, each rank its own, after
  mmengine's ``IterBasedTrainLoop`` has replayed the batches already trained on (the replay
  re-runs the data pipeline, which draws from the generators when there are no dataloader
  workers), or at the start of the next ``EpochBasedTrainLoop`` epoch. The uninterrupted run
  puts its own state back at the same point, so that a validation pass between a checkpoint
  and the next batch leaves the training draws as they were.

Dataloader workers keep their own generators; mmengine seeds them from ``randomness.seed``,
the rank and the worker id, and the replay on resume brings them to the same place. A
checkpoint without the states still resumes, with a warning.
"""
import logging
import random
from typing import Callable, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

RNG_STATE_KEY = 'rng_state'


def get_rng_state() -> dict:
    """This process's generator states, in types torch's weights-only loader accepts:
    ``{'python': random.getstate(), 'numpy': {...}, 'torch': ByteTensor,
    'cuda': [ByteTensor per CUDA device]}`` (``cuda`` empty while CUDA is not in use)."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    cuda = (torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized() else [])
    return dict(
        python=random.getstate(),
        numpy=dict(kind=str(kind), keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state(),
        cuda=list(cuda))


def set_rng_state(state: dict) -> Optional[str]:
    """Put :func:`get_rng_state`'s ``state`` back; a warning text if the CUDA devices
    differ from the ones it was taken on (the devices both have are restored), else None."""
    random.setstate(state['python'])
    n = state['numpy']
    np.random.set_state((n['kind'], n['keys'].cpu().numpy().astype(np.uint32), n['pos'],
                         n['has_gauss'], n['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    saved = state['cuda']
    here = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for device in range(min(len(saved), here)):
        torch.cuda.set_rng_state(saved[device].cpu(), device)
    if len(saved) != here and (saved or torch.cuda.is_initialized()):
        return (f'the checkpoint holds the generator states of {len(saved)} CUDA device(s), '
                f'this process has {here}')
    return None


class _PutBackBeforeFetch:
    """``IterBasedTrainLoop.dataloader_iterator``, wrapped: ``put_back()`` runs before each
    batch is fetched, except for the first ``replayed`` fetches (mmengine's replay, on resume,
    of the batches already trained on)."""

    def __init__(self, iterator: Iterator, put_back: Callable[[], None], replayed: int):
        self.iterator, self._put_back, self._replayed = iterator, put_back, replayed

    def __iter__(self):
        return self

    def __next__(self):
        if self._replayed > 0:
            self._replayed -= 1
        else:
            self._put_back()
        return next(self.iterator)


def _saves_now(hook: CheckpointHook, runner, by_epoch: bool) -> bool:
    """Whether ``hook`` saves a checkpoint in this ``after_train_iter`` (``by_epoch`` False)
    or ``after_train_epoch`` (True), by the rule of mmengine's CheckpointHook."""
    if hook.by_epoch != by_epoch:
        return False
    if by_epoch:
        return bool(hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                    or (hook.save_last and hook.is_last_train_epoch(runner)))
    return bool(hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_iter(runner)))


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save every rank's generator states in each checkpoint and restore them on resume.

    In a config::

        custom_hooks = [dict(type='RNGStateHook')]

    Exact resume also needs the same ``randomness.seed`` (mmsola's ``tools/train.py --resume``
    takes the checkpoint's when the config has none), the same number of processes and, on
    GPUs, deterministic kernels (``randomness.deterministic=True``).
    """

    # after the other hooks of a stage (their draws are part of the step), before the
    # CheckpointHook ('VERY_LOW') saves
    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None  # this rank's state, to put back before a fetch
        self._all: Optional[List[dict]] = None  # every rank's, for the next checkpoint
        self._in_training = False
        self._wrapped: Optional[_PutBackBeforeFetch] = None

    # taking the states ---------------------------------------------------------------------

    def _take(self) -> None:
        """Every rank: its own state to put back; rank 0: all of them for the checkpoint."""
        self._pending = get_rng_state()
        self._all = all_gather_object(self._pending)

    def _checkpoint_follows(self, runner, by_epoch: bool) -> bool:
        return any(isinstance(h, CheckpointHook) and _saves_now(h, runner, by_epoch)
                   for h in runner.hooks)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._checkpoint_follows(runner, by_epoch=False):
            self._take()

    def after_train_epoch(self, runner) -> None:
        if self._checkpoint_follows(runner, by_epoch=True):
            self._take()

    def before_val(self, runner) -> None:
        if self._in_training:
            self._take()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._all = None  # a new step: the states taken before it are out of date

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # rank 0 alone (mmengine's Runner.save_checkpoint is master_only): no collectives here
        if self._all is None and get_world_size() == 1:
            self._all = [get_rng_state()]
        if self._all is None:
            runner.logger.warning(
                'RNGStateHook: a checkpoint is saved at a point where the generator states of '
                'the other ranks were not gathered; it is written without them.')
            return
        checkpoint[RNG_STATE_KEY] = self._all

    # putting them back -----------------------------------------------------------------

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner._resume:  # load_from: the weights only (as mmengine's EMAHook reads it)
            return
        states = checkpoint.get(RNG_STATE_KEY)
        if states is None:
            print_log(
                'RNGStateHook: the checkpoint holds no random generator states (it was saved '
                'without RNGStateHook); training resumes, but random layers (drop path, '
                'dropout) and augmentations will not draw what the interrupted run would have '
                'drawn.', logger='current', level=logging.WARNING)
            return
        if len(states) != get_world_size():
            print_log(
                f'RNGStateHook: the checkpoint holds the generator states of {len(states)} '
                f'processes and this run has {get_world_size()}; they are not restored (the '
                'data is split differently anyway).', logger='current', level=logging.WARNING)
            return
        self._pending = states[get_rank()]
        print_log('RNGStateHook: random generator states of the checkpoint will be restored '
                  'before the first resumed batch', logger='current')

    def _put_back(self) -> None:
        if self._pending is not None:
            warning = set_rng_state(self._pending)
            if warning:
                print_log(f'RNGStateHook: {warning}', logger='current', level=logging.WARNING)
            self._pending = None

    def before_train(self, runner) -> None:
        self._in_training = True
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop: one pass, replayed
            self._wrapped = _PutBackBeforeFetch(loop.dataloader_iterator, self._put_back,
                                                replayed=loop.iter)
            loop.dataloader_iterator = self._wrapped

    def before_train_epoch(self, runner) -> None:
        if self._wrapped is None:  # EpochBasedTrainLoop: the epoch's batches come next
            self._put_back()

    def after_train(self, runner) -> None:
        self._in_training = False
        if self._wrapped is not None and runner.train_loop.dataloader_iterator is self._wrapped:
            runner.train_loop.dataloader_iterator = self._wrapped.iterator
        self._wrapped = None
