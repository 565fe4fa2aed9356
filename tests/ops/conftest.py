"""Run the Triton kernels in the Triton interpreter when there is no CUDA GPU.

TRITON_INTERPRET must be set before the kernels are created (at the first import of
``mmsola.ops.linear_attention.fused``), so it is set here, at collection. On a machine with a
GPU it is left alone and the same tests run the compiled kernels.
"""
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')


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
