"""Mixed precision on CPU: bf16 autocast around the forward, for ``tools/train.py --amp``.

mmengine 0.10's ``AmpOptimWrapper`` refuses to build without a GPU (it asserts CUDA, NPU, MLU or
MUSA), although its ``autocast`` supports the CPU in bfloat16. :class:`CPUAutocastOptimWrapper`
is mmengine's ``OptimWrapper`` with that autocast around the data preprocessor and the forward
(``optim_context``): matmuls and convolutions run in bfloat16, the weights, gradients and
optimizer state stay fp32. bfloat16 has fp32's exponent range, so no loss scaling is needed
(torch's GradScaler is for fp16).
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` whose forward runs under CPU bf16 autocast.

    Same arguments as ``OptimWrapper``; its state dict is the optimizer's alone, so a run can
    resume with or without it. In a config::

        optim_wrapper = dict(type='CPUAutocastOptimWrapper', optimizer=dict(type='AdamW'))
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast(device_type='cpu', dtype=torch.bfloat16):
            yield
