"""Small building blocks shared by the backbone modules (torch only)."""
from typing import Tuple

import torch
from torch import nn


def tokens_to_map(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """(B, N, C) tokens of an (h, w) grid -> (B, C, h, w) map."""
    b, n, c = x.shape
    return x.transpose(1, 2).reshape(b, c, hw[0], hw[1])


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) map -> (B, h * w, C) tokens."""
    return x.flatten(2).transpose(1, 2)


def depthwise_conv3x3(channels: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """3x3 depthwise conv; with stride 2 an (h, w) map becomes (ceil(h/2), ceil(w/2))."""
    return nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels,
                     bias=bias)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample with probability ``p``.

    Kept samples are scaled by ``1 / (1 - p)``; identity in eval mode or when ``p == 0``.
    """

    def __init__(self, p: float = 0.):
        super().__init__()
        if not 0. <= p < 1.:
            raise ValueError(f'drop path probability must be in [0, 1), got {p}')
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0. or not self.training:
            return x
        keep = 1. - self.p
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f'p={self.p}'
