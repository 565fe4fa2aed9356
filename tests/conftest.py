"""Suite-wide setup, loaded before any test module is imported.

Without a CUDA GPU, the Triton kernels run in the Triton interpreter. TRITON_INTERPRET must be
set before the kernels are created (the first import of
``mmsola.ops.linear_attention.fused``, which any test folder may trigger), so it is set here,
ahead of every test module. On a machine with a GPU it is left alone and the same tests run
the compiled kernels.
"""
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs the test files on one worker process per core: each worker, and the
    # tools it starts as subprocesses, computes on one thread (two per worker thrash).
    torch.set_num_threads(1)
    os.environ['OMP_NUM_THREADS'] = '1'


@pytest.fixture(scope='module')
def one_torch_thread():
    """Run a test module's in-process model runs on one torch thread: on a shared, busy
    machine two OpenMP threads per process thrash (measured 3x slower). Subprocesses keep
    their own settings (torchrun gives each process one thread already)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
