"""Suite-wide setup, loaded before any test module is imported.

Without a CUDA GPU, the Triton kernels run in the Triton interpreter. TRITON_INTERPRET must be
set before the kernels are created (the first import of
``mmsola.ops.linear_attention.fused``, which any test folder may trigger), so it is set here,
ahead of every test module. On a machine with a GPU it is left alone and the same tests run
the compiled kernels.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')
