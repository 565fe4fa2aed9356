"""Resume: a run whose disk fails while it writes its second checkpoint keeps the first one
intact, and ``tools/train.py --resume`` continues from it to the same iteration count,
optimizer state, schedulers and weights as an uninterrupted run with the same seed.

UperNet's iteration-based loop replays the batches it already trained on when it resumes,
so the data order and the numpy-driven augmentations come out the same; the stochastic
layers (drop path, dropout) draw from torch's generator, which mmengine's checkpoints do
not hold, so they are off here, with torch's deterministic algorithms on.
"""
import errno
import os

import pytest
import torch

from tests.tools import tool_runs
from tests.tools.fake_data import write_ade20k

pytestmark = pytest.mark.usefixtures('one_torch_thread')

CONFIG = 'configs/upernet_sola_t_ade20k.py'
DETERMINISTIC = ['randomness.deterministic=True', 'model.backbone.drop_path_rate=0.0',
                 'model.decode_head.dropout_ratio=0.0', 'model.auxiliary_head.dropout_ratio=0.0',
                 'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
                 'default_hooks.checkpoint.save_best=None']


@pytest.fixture
def deterministic_torch_restored():
    """mmengine turns torch's deterministic algorithms on for the whole process; turn them
    back to what they were for the tests that follow."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def _load(path):
    return torch.load(path, map_location='cpu', mmap=True, weights_only=True)


def _assert_same_state(got: dict, want: dict) -> None:
    """Same iteration, weights, optimizer state and scheduler state (to 1e-6)."""
    assert (got['meta']['iter'], got['meta']['epoch']) == (want['meta']['iter'],
                                                           want['meta']['epoch'])
    torch.testing.assert_close(got['state_dict'], want['state_dict'], rtol=0, atol=1e-6)
    got_opt, want_opt = got['optimizer'], want['optimizer']
    assert len(got_opt['state']) == len(want_opt['state']) > 0
    torch.testing.assert_close(got_opt['state'], want_opt['state'], rtol=0, atol=1e-6)
    assert [g['lr'] for g in got_opt['param_groups']] == pytest.approx(
        [g['lr'] for g in want_opt['param_groups']], rel=1e-12)
    assert got['param_schedulers'] == want['param_schedulers']


def test_crash_mid_save_keeps_last_checkpoint_and_resume_matches_uninterrupted_run(
        tmp_path, monkeypatch, deterministic_torch_restored):
    data_root = write_ade20k(tmp_path / 'ade')

    def options(work_dir):  # 2 iterations, a checkpoint after each
        return tool_runs.tiny_options(CONFIG, data_root, work_dir, iters=1, epochs=2,
                                      extra=DETERMINISTIC)

    full = tmp_path / 'full'
    tool_runs.train(CONFIG, options(full))

    # The disk fills up while iter_2.pth is being written.
    crashed = tmp_path / 'crashed'
    fsync = os.fsync

    def failing_fsync(fd):
        if os.readlink(f'/proc/self/fd/{fd}').split('/')[-1].startswith('.iter_2.pth'):
            raise OSError(errno.ENOSPC, 'No space left on device')
        fsync(fd)

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='No space left'):
        tool_runs.train(CONFIG, options(crashed))
    monkeypatch.undo()

    # Nothing half-written; the first checkpoint is whole and is the one to resume from.
    assert sorted(p.name for p in crashed.iterdir() if p.is_file()) == [
        'iter_1.pth', 'last_checkpoint', 'upernet_sola_t_ade20k.py']
    assert (crashed / 'last_checkpoint').read_text() == str(crashed / 'iter_1.pth')
    _assert_same_state(_load(crashed / 'iter_1.pth'), _load(full / 'iter_1.pth'))

    tool_runs.train(CONFIG, options(crashed), '--resume')
    resumed, uninterrupted = _load(crashed / 'iter_2.pth'), _load(full / 'iter_2.pth')
    assert resumed['meta']['iter'] == 2
    _assert_same_state(resumed, uninterrupted)
