"""Public entry point of the linear-attention op: input checks, autocast and backend choice.

Backends
    ``'triton'``  fused Triton kernels (CUDA tensors; CPU tensors only in the Triton
                  interpreter, ``TRITON_INTERPRET=1`` set before triton is imported).
    ``'torch'``   the PyTorch implementation (any device and dtype, float64 included).
    ``'auto'``    ``'triton'`` for CUDA tensors when triton imports and the head dim and dtype
                  are supported, else ``'torch'``. The choice is logged once (per distinct
                  choice and reason) through mmengine's logger.

Precedence: an explicit ``backend='triton'`` or ``'torch'`` argument wins; with ``'auto'``
the environment variable ``MMSOLA_ATTN_BACKEND`` (``auto`` | ``triton`` | ``torch``), if set,
decides; otherwise the automatic rule above. (Under ``torch.compile`` the variable is read
when the function is traced.)

Autocast: when autocast is enabled for the inputs' device, q, k and v are cast to the
autocast dtype (``torch.get_autocast_dtype``), the op runs in that dtype (fp32 accumulation
inside) and returns it, like a ``custom_fwd(cast_inputs=...)`` function.
"""
import logging
import os
import warnings
from typing import Optional, Tuple

import torch

from ..rope import check_rope_args
from .op import linear_attention_call

try:
    from mmengine.logging import print_log
except ImportError:  # mmengine is a requirement of mmsola; keep the op usable without it

    def print_log(msg, logger=None, level=logging.INFO):
        logging.getLogger('mmsola').log(level, msg)


BACKEND_ENV_VAR = 'MMSOLA_ATTN_BACKEND'
BACKENDS = ('auto', 'triton', 'torch')
TRITON_HEAD_DIMS = (16, 32, 48, 64, 96, 128)
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

_logged = set()


def _log_once(msg: str) -> None:
    if msg not in _logged and not torch.compiler.is_compiling():
        _logged.add(msg)
        print_log(msg, logger='current', level=logging.INFO)


@torch.compiler.assume_constant_result
def _env_backend() -> str:
    return os.environ.get(BACKEND_ENV_VAR, '').strip().lower()


@torch.compiler.assume_constant_result
def _triton_import_error() -> str:
    """'' if triton and the fused kernels import, else the reason."""
    try:
        from . import fused  # noqa: F401
    except Exception as e:  # ImportError, or a broken triton install
        return f'{type(e).__name__}: {e}'
    return ''


@torch.compiler.assume_constant_result
def _triton_interpreting() -> bool:
    """True if the kernels were created by the Triton interpreter (TRITON_INTERPRET=1)."""
    from triton.runtime.jit import JITFunction

    from . import fused
    return not isinstance(fused._fwd_state_kernel, JITFunction)


def _check_inputs(q, k, v, hw, backend) -> None:
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    for name, x in (('q', q), ('k', k), ('v', v)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f'{name} must be a torch.Tensor, got {type(x).__name__}')
        if x.dim() != 4:
            raise ValueError(f'{name} must be a 4-D (B, heads, N, head_dim) tensor, got shape '
                             f'{tuple(x.shape)}')
        if not x.is_floating_point():
            raise ValueError(f'{name} must be a floating-point tensor, got {x.dtype}')
    if not q.shape == k.shape == v.shape:
        raise ValueError('q, k and v must have the same (B, heads, N, head_dim) shape, got '
                         f'q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}')
    if not q.dtype == k.dtype == v.dtype:
        raise ValueError(f'q, k and v must have the same dtype, got {q.dtype}, {k.dtype}, '
                         f'{v.dtype}')
    if not q.device == k.device == v.device:
        raise ValueError(f'q, k and v must be on the same device, got {q.device}, {k.device}, '
                         f'{v.device}')
    num_tokens, head_dim = q.shape[-2:]
    if num_tokens == 0 or head_dim == 0:
        raise ValueError(f'N and head_dim must be positive, got shape {tuple(q.shape)}')
    if hw is not None:
        if (not isinstance(hw, (tuple, list)) or len(hw) != 2
                or not all(isinstance(x, (int, torch.SymInt)) for x in hw)
                or not all(x > 0 for x in hw)):
            raise ValueError(f'hw must be None or a (height, width) pair of positive ints, '
                             f'got {hw!r}')
        check_rope_args(num_tokens, head_dim, hw)


def _triton_unsupported(q: torch.Tensor) -> Tuple[Optional[type], str]:
    """(None, '') if the triton backend can run ``q``; else (error type, reason)."""
    head_dim = q.shape[-1]
    if head_dim not in TRITON_HEAD_DIMS:
        return ValueError, f'head dim {head_dim} is not one of {TRITON_HEAD_DIMS}'
    if q.dtype not in TRITON_DTYPES:
        return ValueError, (f'dtype {q.dtype} is not one of '
                            f'{tuple(str(d) for d in TRITON_DTYPES)}')
    err = _triton_import_error()
    if err:
        return RuntimeError, f'triton is not available ({err})'
    if not q.is_cuda and not (q.device.type == 'cpu' and _triton_interpreting()):
        return RuntimeError, (
            f'tensors are on {q.device.type}, not CUDA; move them to a CUDA device, use '
            "backend='torch' (or 'auto'), or, to run the Triton kernels on CPU in the (slow) "
            'Triton interpreter, set TRITON_INTERPRET=1 before triton is imported')
    return None, ''


def select_backend(backend: str, q: torch.Tensor) -> str:
    """Resolve ``backend`` ('auto' | 'triton' | 'torch') for inputs like ``q``."""
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    source = f'backend={backend!r}'
    if backend == 'auto':
        env = _env_backend()
        if env:
            if env not in BACKENDS:
                raise ValueError(f'{BACKEND_ENV_VAR}={env!r} is not one of {BACKENDS}')
            backend, source = env, f'{BACKEND_ENV_VAR}={env}'
    if backend == 'torch':
        if source != "backend='torch'":
            _log_once(f"mmsola.ops.linear_attention: using the 'torch' backend ({source})")
        return 'torch'
    if backend == 'triton':
        error, reason = _triton_unsupported(q)
        if error is not None:
            raise error(f"linear_attention: {source} cannot be used: {reason}")
        if source != "backend='triton'":
            _log_once(f"mmsola.ops.linear_attention: using the 'triton' backend ({source})")
        return 'triton'
    # automatic choice
    if not q.is_cuda:
        choice, reason = 'torch', f'tensors on {q.device.type}'
    else:
        error, reason = _triton_unsupported(q)
        choice = 'torch' if error is not None else 'triton'
        reason = reason or f'CUDA, head dim {q.shape[-1]}, {q.dtype}'
    _log_once(f"mmsola.ops.linear_attention: backend 'auto' -> {choice!r} ({reason})")
    return choice


def _autocast(q, k, v):
    device_type = q.device.type
    if device_type in ('cuda', 'cpu') and torch.is_autocast_enabled(device_type):
        dtype = torch.get_autocast_dtype(device_type)
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    return q, k, v


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                     hw: Optional[Tuple[int, int]] = None, eps: float = 1e-6,
                     backend: str = 'auto') -> torch.Tensor:
    """Linear attention on (B, heads, N, head_dim) tensors, fused forward and backward.

    ::

        phi = elu + 1
        z   = 1 / (phi(q) . mean_n phi(k) + eps)                        # (B, heads, N, 1)
        out = (rope(phi(q)) @ (rope(phi(k))^T v / N)) * z

    Args:
        q, k, v: (B, heads, N, head_dim) tensors of the same shape, dtype and device; any
            strides (e.g. ``.transpose(1, 2)`` of (B, N, heads, d), or slices of one qkv
            tensor). fp32, bf16, fp16 (and float64 with the torch backend).
        hw: (height, width) token grid, height * width == N, for the 2-D RoPE
            (:func:`mmsola.ops.apply_rope_2d`, head_dim divisible by 4; MLLA's layout: the
            rotation spans the full width heads * head_dim, so each head turns with one axis
            and its own band of frequencies); None: no RoPE.
        eps: added to the normaliser's denominator.
        backend: 'auto' | 'triton' | 'torch' (see the module docstring; the environment
            variable ``MMSOLA_ATTN_BACKEND`` overrides 'auto'). The triton backend needs
            head_dim in (16, 32, 48, 64, 96, 128) and fp32/bf16/fp16; 'auto' falls back to
            torch otherwise, a forced 'triton' raises ValueError.

    Returns:
        (B, heads, N, head_dim) contiguous tensor in the input dtype (the autocast dtype under
        autocast). Accumulation is in fp32 (float64 for float64 inputs).

    Raises:
        ValueError: bad shapes, dtypes, ``hw`` or ``backend``; a forced
            'triton' with an unsupported head dim or dtype.
        RuntimeError: a forced 'triton' without CUDA tensors (outside the interpreter) or
            without triton.
    """
    if torch.jit.is_tracing():  # e.g. mmengine's FLOP counter: shape checks are not data flow
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            _check_inputs(q, k, v, hw, backend)
    else:
        _check_inputs(q, k, v, hw, backend)
    q, k, v = _autocast(q, k, v)
    name = select_backend(backend, q)
    h, w = hw if hw is not None else (0, 0)
    return linear_attention_call(q, k, v, h, w, float(eps), name)
