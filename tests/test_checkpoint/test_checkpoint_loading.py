"""Runner checkpoints written by mmengine load back under torch's weights_only default.

torch >= 2.6 refuses mmengine 0.10's checkpoints (HistoryBuffer, numpy values) unless the
exact types are allow-listed; importing mmsola does that, and nothing more.
"""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import mmsola  # noqa: F401  (allow-lists mmengine's checkpoint types)
from tests.support.toy_runner import make_runner


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('run')
    runner = make_runner(work_dir, max_iters=2)
    runner.train()
    return work_dir, runner.model.linear.weight.detach().clone()


def test_checkpoint_holds_mmengine_types_and_loads_weights_only(trained):
    work_dir, _ = trained
    checkpoint = torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=True)
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert type(history).__name__ == 'HistoryBuffer' and len(history.data[0]) == 2
    assert checkpoint['meta']['iter'] == 2


def test_without_mmsola_torch_refuses_the_same_checkpoint(trained):
    work_dir, _ = trained
    code = ('import pickle, sys, torch\n'
            'try:\n'
            f"    torch.load({str(work_dir / 'iter_2.pth')!r}, weights_only=True)\n"
            'except pickle.UnpicklingError:\n'
            '    sys.exit(3)\n')
    assert subprocess.run([sys.executable, '-c', code]).returncode == 3


def test_training_resumes_from_the_checkpoint(trained, tmp_path):
    work_dir, weight_at_2 = trained
    runner = make_runner(tmp_path, max_iters=4, resume=True,
                         load_from=str(work_dir / 'iter_2.pth'))
    runner.train()
    assert runner.iter == 4
    assert (tmp_path / 'iter_4.pth').exists()
    # message hub history continued from the resumed run
    assert runner.message_hub.get_scalar('train/loss').data[0].size == 4


def test_load_from_restores_the_weights(trained, tmp_path):
    work_dir, weight_at_2 = trained
    runner = make_runner(tmp_path, max_iters=2, load_from=str(work_dir / 'iter_2.pth'))
    runner.load_or_resume()
    torch.testing.assert_close(runner.model.linear.weight, weight_at_2)


class NotAllowed:
    pass


def test_other_pickled_objects_are_still_refused(tmp_path):
    path = tmp_path / 'untrusted.pth'
    torch.save({'state_dict': {}, 'payload': NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError, match='NotAllowed'):
        torch.load(path, weights_only=True)


class AttributeOf:
    """Pickles as ``getattr(owner, name)``, the way HistoryBuffer's methods are pickled."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


@pytest.mark.parametrize('owner, name', [(np.ndarray, 'tofile'), (HistoryBuffer, '__init__'),
                                         (HistoryBuffer, '_statistics_methods')])
def test_getattr_is_allowed_only_for_history_buffer_methods(tmp_path, owner, name):
    path = tmp_path / 'getattr.pth'
    torch.save({'payload': AttributeOf(owner, name)}, path)
    with pytest.raises(pickle.UnpicklingError, match='allows getattr only for'):
        torch.load(path, weights_only=True)
