"""Fixtures for the op tests: the device, and whether the Triton backend can run on it.

``tests/conftest.py`` sets TRITON_INTERPRET=1 on machines without CUDA, before any kernel is
created, so the Triton kernels run in the interpreter there.
"""
import pytest
import torch


def _triton_runnable(device: str) -> str:
    """'' if the triton backend can run on ``device`` here, else why not."""
    try:
        from mmsola.ops.linear_attention import interface
        if interface._triton_import_error():
            return interface._triton_import_error()
        if device == 'cpu' and not interface._triton_interpreting():
            return 'triton was imported before TRITON_INTERPRET=1 was set'
    except Exception as e:  # pragma: no cover - reported as the skip reason
        return repr(e)
    return ''


@pytest.fixture(scope='session')
def device() -> str:
    """'cuda' on a GPU machine, else 'cpu' (the kernels then run in the interpreter)."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


@pytest.fixture(scope='session')
def triton_device(device) -> str:
    reason = _triton_runnable(device)
    if reason:
        pytest.skip(f'triton backend not runnable: {reason}')
    return device


@pytest.fixture(autouse=True)
def _no_backend_env(monkeypatch):
    """Tests choose the backend themselves: ignore a MMSOLA_ATTN_BACKEND of the caller."""
    monkeypatch.delenv('MMSOLA_ATTN_BACKEND', raising=False)
