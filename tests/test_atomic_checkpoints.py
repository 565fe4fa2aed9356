"""Checkpoints written through the 'atomic_local' backend are never left half-written."""
import os

import pytest
import torch
from mmengine.fileio import get_file_backend

from mmsola.utils import ATOMIC_LOCAL_BACKEND, AtomicLocalBackend

from .test_checkpoint_loading import make_runner


def test_the_backend_is_registered_with_mmengine(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend=ATOMIC_LOCAL_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / 'latest.pth'
    backend = AtomicLocalBackend()
    backend.put(b'good checkpoint', target)

    def disk_full(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        backend.put(b'half a checkp', target)
    assert target.read_bytes() == b'good checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['latest.pth']  # no temp file left


def test_checkpoint_hook_saves_and_resumes_through_it(tmp_path):
    runner = make_runner(tmp_path, max_iters=2,
                         checkpoint_backend_args=dict(backend=ATOMIC_LOCAL_BACKEND))
    runner.train()
    checkpoint = torch.load(tmp_path / 'iter_2.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
