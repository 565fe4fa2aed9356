"""Checkpoints written through the 'atomic_local' backend are never left half-written."""
import os

import pytest
import torch
from mmengine.fileio import get_file_backend

from mmsola.utils import ATOMIC_LOCAL_BACKEND, AtomicLocalBackend
from tests.support.toy_runner import make_runner


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


def _fail_fsync_of(monkeypatch, prefix: str, at: int = 1) -> None:
    """The disk fails when the ``at``-th temporary file whose name starts with ``prefix`` is
    synced."""
    fsync, seen = os.fsync, []

    def failing_fsync(fd):
        if os.readlink(f'/proc/self/fd/{fd}').rsplit('/', 1)[-1].startswith(prefix):
            seen.append(fd)
            if len(seen) == at:
                raise OSError(28, 'No space left on device')
        fsync(fd)

    monkeypatch.setattr(os, 'fsync', failing_fsync)


def test_atomic_hook_replaces_last_checkpoint_whole(tmp_path, monkeypatch):
    """mmengine's hook writes last_checkpoint with open('w'): killed after the truncation,
    it names nothing. The atomic hook's last_checkpoint is the old one until the new is whole."""
    runner = make_runner(tmp_path, max_iters=4, checkpoint=dict(type='AtomicCheckpointHook'))
    hook, = (h for h in runner.hooks if type(h).__name__ == 'AtomicCheckpointHook')
    assert hook.backend_args == dict(backend=ATOMIC_LOCAL_BACKEND)  # the default
    _fail_fsync_of(monkeypatch, '.last_checkpoint.', at=2)  # when it names iter_4.pth
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file() and p.suffix != '.py') == [
        'iter_2.pth', 'iter_4.pth', 'last_checkpoint']


@pytest.mark.parametrize('hook_type', ['AtomicCheckpointHook', 'CheckpointHook'])
def test_max_keep_ckpts_removes_the_old_checkpoint_after_the_new_one(tmp_path, monkeypatch,
                                                                     hook_type):
    """mmengine's own hook removes the only checkpoint before writing the next: a crash in
    between leaves nothing to resume from. The atomic hook removes it afterwards."""
    runner = make_runner(tmp_path, max_iters=4, checkpoint=dict(
        type=hook_type, max_keep_ckpts=1, backend_args=dict(backend=ATOMIC_LOCAL_BACKEND)))
    _fail_fsync_of(monkeypatch, '.iter_4.pth.')
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    kept = sorted(p.name for p in tmp_path.iterdir() if p.suffix == '.pth')
    assert kept == (['iter_2.pth'] if hook_type == 'AtomicCheckpointHook' else [])


def test_atomic_hook_removes_what_killed_writes_left_and_nothing_else(tmp_path):
    left = [tmp_path / '.iter_2.pth.k3x_9a0z.tmp', tmp_path / '.last_checkpoint.abcdefgh.tmp']
    kept = [tmp_path / '.iter_2.pth.tmp', tmp_path / 'notes.tmp', tmp_path / '.hidden']
    for path in left + kept:
        path.write_bytes(b'x')
    runner = make_runner(tmp_path, max_iters=2, checkpoint=dict(type='AtomicCheckpointHook'))
    runner.train()
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
