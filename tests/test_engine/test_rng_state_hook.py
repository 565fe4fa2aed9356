"""RNGStateHook: the generator states of every rank survive a checkpoint (weights-only load
included) and each rank gets its own back; a toy run resumes exactly with dropout on.

The tool-level tests (one and two processes, shipped configs) are in
tests/test_tools/test_resume.py.
"""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from mmsola.engine import RNG_STATE_KEY, RNGStateHook, get_rng_state, set_rng_state
from mmsola.engine.hooks import rng_state_hook
from tests.support.toy_runner import ToyData, ToyRegressor


def _draws():
    return (random.random(), float(np.random.rand()), torch.rand(3).tolist())


def test_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.save(get_rng_state(), tmp_path / 'state.pth')
    want = _draws()
    _draws()
    set_rng_state(torch.load(tmp_path / 'state.pth', weights_only=True))
    assert _draws() == want


def _two_ranks(monkeypatch, rank: int, other_rank_state: dict) -> None:
    """This process is rank ``rank`` of 2; the other rank holds ``other_rank_state``."""
    monkeypatch.setattr(rng_state_hook, 'get_world_size', lambda: 2)
    monkeypatch.setattr(rng_state_hook, 'get_rank', lambda: rank)
    monkeypatch.setattr(rng_state_hook, 'all_gather_object',
                        lambda mine: [other_rank_state, mine] if rank else [mine, other_rank_state])


def test_rank_zero_saves_both_ranks_and_each_rank_restores_its_own(monkeypatch):
    torch.manual_seed(1)
    rank1 = get_rng_state()
    want = torch.rand(4)
    torch.manual_seed(0)
    _two_ranks(monkeypatch, rank=0, other_rank_state=rank1)
    runner = SimpleNamespace(_resume=True)
    hook = RNGStateHook()
    hook._take()  # what after_train_iter does before a checkpoint
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    states = checkpoint[RNG_STATE_KEY]
    assert len(states) == 2 and torch.equal(states[1]['torch'], rank1['torch'])
    assert not torch.equal(states[0]['torch'], rank1['torch'])

    # rank 1 of the resumed run: its own state, put back before its first batch
    monkeypatch.setattr(rng_state_hook, 'get_rank', lambda: 1)
    resumed = RNGStateHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    torch.manual_seed(123)
    resumed._put_back()
    assert torch.equal(torch.rand(4), want)


def test_a_checkpoint_of_another_world_size_or_without_states_is_resumed_as_is(monkeypatch):
    hook, runner = RNGStateHook(), SimpleNamespace(_resume=True)
    warnings = []
    monkeypatch.setattr(rng_state_hook, 'print_log',
                        lambda msg, logger=None, level=None: warnings.append(msg))
    hook.after_load_checkpoint(runner, {})
    hook.after_load_checkpoint(runner, {RNG_STATE_KEY: [get_rng_state()] * 2})
    assert hook._pending is None
    assert 'holds no random generator states' in warnings[0]
    assert 'of 2 processes and this run has 1' in warnings[1]


def test_load_from_does_not_take_the_states():
    hook = RNGStateHook()
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), {RNG_STATE_KEY: [{}]})
    assert hook._pending is None


class DropoutRegressor(ToyRegressor):
    """ToyRegressor with dropout: its training draws from torch's generator."""

    def forward(self, inputs, targets, mode='loss'):
        inputs = [torch.nn.functional.dropout(x, 0.5, self.training) for x in inputs]
        return super().forward(inputs, targets, mode)


def _toy_run(work_dir, by_epoch: bool, with_hook: bool, **kwargs) -> torch.Tensor:
    """DropoutRegressor on the 8 toy samples in batches of 2: 2 epochs with a checkpoint after
    each, or 4 iterations with a checkpoint after every 2; the trained weight."""
    torch.manual_seed(0)  # the same initial weights in every run
    loop = dict(by_epoch=True, max_epochs=2) if by_epoch else dict(by_epoch=False, max_iters=4)
    runner = Runner(
        model=DropoutRegressor(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyData(), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=loop, randomness=dict(seed=0),
        default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook', by_epoch=by_epoch,
                                           interval=1 if by_epoch else 2)),
        custom_hooks=[dict(type='RNGStateHook')] if with_hook else [],
        experiment_name=f'toy_{work_dir.parent.name}_{work_dir.name}', **kwargs)
    runner.train()
    return runner.model.linear.weight.detach().clone()


@pytest.mark.parametrize('by_epoch', [False, True], ids=['iter_loop', 'epoch_loop'])
@pytest.mark.parametrize('with_hook', [True, False], ids=['hook', 'no_hook'])
def test_a_toy_run_with_dropout_resumes_exactly_only_with_the_hook(tmp_path, by_epoch,
                                                                     with_hook):
    """Resumed from the first checkpoint: mid-pass in the iteration loop (mmengine replays the
    2 batches seen), at an epoch's end in the epoch loop."""
    full = _toy_run(tmp_path / 'full', by_epoch, with_hook)
    first = tmp_path / 'full' / ('epoch_1.pth' if by_epoch else 'iter_2.pth')
    resumed = _toy_run(tmp_path / 'resumed', by_epoch, with_hook, resume=True,
                       load_from=str(first))
    assert torch.equal(resumed, full) == with_hook
