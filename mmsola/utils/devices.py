"""Which device a tool runs on: the one asked for, checked, or the GPU when there is one."""
from typing import Optional, Union

import torch

from mmsola.errors import UserError

DeviceLike = Union[str, torch.device]


class DeviceError(UserError, ValueError):
    """A device that is not the CPU or an available GPU; the message says which to use."""


def default_device() -> str:
    """``'cuda'`` when a GPU is available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def check_device(device: DeviceLike) -> torch.device:
    """``device`` as a torch.device; :class:`DeviceError` unless it is the CPU or an
    available GPU."""
    try:
        device = torch.device(device)
    except RuntimeError:  # torch's message lists every device type it knows
        raise DeviceError(f"device {str(device)!r} is not a device: use 'cpu' or 'cuda[:i]'") \
            from None
    if device.type not in ('cpu', 'cuda'):
        raise DeviceError(f"device {str(device)!r} is not supported: use 'cpu' or 'cuda[:i]'")
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise DeviceError(f'device {str(device)!r} was asked for but CUDA is not available; '
                          "use --device cpu")
    return device


def choose_device(requested: Optional[DeviceLike] = None,
                  distributed: bool = False) -> torch.device:
    """``requested`` (checked by :func:`check_device`), or :func:`default_device`. In a
    distributed run a CUDA device becomes this process's GPU (the one mmengine's launchers
    set for its local rank)."""
    device = check_device(requested or default_device())
    if device.type == 'cuda' and distributed:
        device = torch.device('cuda', torch.cuda.current_device())
    return device
