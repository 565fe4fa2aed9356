"""Whether the ops run in plain eager mode, the one place that decides it."""
import torch


def is_plain_eager() -> bool:
    """True in plain eager execution: not under ``torch.compile``, ``torch.jit`` tracing or a
    ``TorchDispatchMode`` (the fake tensors of torch.export, FLOP counters).

    Only then may an op take a Python fast path that those would not see through (the
    linear-attention op's ``autograd.Function``) or cache tensors (the RoPE tables), which
    would otherwise leak into a trace as constants.
    """
    from torch.utils._python_dispatch import _get_current_dispatch_mode
    return not (torch.compiler.is_compiling() or torch.jit.is_tracing()
                or _get_current_dispatch_mode() is not None)
