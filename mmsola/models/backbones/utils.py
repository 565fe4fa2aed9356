"""Small building blocks shared by the backbone modules (torch only)."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn


def tokens_to_map(x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """(B, N, C) tokens of an (h, w) grid -> (B, C, h, w) map.

    Contiguous tokens are already a channels-last map in memory, so this is a view (no copy)
    in ``torch.channels_last`` memory format.
    """
    b, _, c = x.shape
    return x.reshape(b, hw[0], hw[1], c).permute(0, 3, 1, 2)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) map -> contiguous (B, h * w, C) tokens; a view of a channels-last map,
    a copy of any other layout."""
    b, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, h * w, c)


def channels_last_weight(weight: torch.Tensor) -> torch.Tensor:
    """A conv weight (O, I, kh, kw) with channels-last strides, as convs want it for a
    channels-last input.

    When ``I == 1`` (depthwise) or ``kh == kw == 1`` (pointwise) both layouts are the same
    bytes, so this is a zero-copy view (``.contiguous(memory_format=...)`` would be a no-op
    that keeps strides which PyTorch reads as NCHW); otherwise a copy (small: weights only).
    """
    o, i, kh, kw = weight.shape
    if i == 1 or kh * kw == 1:
        return weight.reshape(o, kh, kw, i).permute(0, 3, 1, 2)
    return weight.contiguous(memory_format=torch.channels_last)


class ChannelsLastConv2d(nn.Conv2d):
    """``nn.Conv2d`` that convolves in channels-last memory format.

    The backbone keeps its maps channels-last (tokens (B, N, C) are a channels-last
    (B, C, h, w) map in memory: :func:`tokens_to_map` is a view). Given a channels-last weight
    (:func:`channels_last_weight`) the convolution reads such a map without layout conversions
    and returns a channels-last map (a view of tokens again through :func:`map_to_tokens`);
    with an NCHW weight oneDNN takes a much slower NCHW path on CPU (a depthwise 3x3 on a
    (1, 64, 128, 128) map: ~20x slower). An NCHW input is converted once by the conv.
    A 1x1 conv (stride 1, no padding, no groups) runs as ``F.linear`` over the channels of the
    channels-last map, one GEMM, whatever PyTorch's conv heuristics would pick for it.
    Parameters and their names are those of ``nn.Conv2d``, so checkpoints are unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._pointwise:  # a 1x1 conv is a linear layer over channels: one GEMM on tokens
            o, i = self.weight.shape[:2]
            out = F.linear(x.permute(0, 2, 3, 1), self.weight.reshape(o, i), self.bias)
            return out.permute(0, 3, 1, 2)
        return self._conv_forward(x, channels_last_weight(self.weight), self.bias)

    @property
    def _pointwise(self) -> bool:
        return (self.kernel_size == (1, 1) and self.stride == (1, 1) and self.groups == 1
                and self.padding in ((0, 0), 'valid') and self.dilation == (1, 1))


def depthwise_conv3x3(channels: int, stride: int = 1, bias: bool = True) -> ChannelsLastConv2d:
    """3x3 depthwise conv; with stride 2 an (h, w) map becomes (ceil(h/2), ceil(w/2))."""
    return ChannelsLastConv2d(channels, channels, 3, stride=stride, padding=1, groups=channels,
                              bias=bias)


class ResidualDepthwiseConv2d(ChannelsLastConv2d):
    """``x + dwconv3x3(x)`` (the blocks' positional conv) as one convolution.

    The identity is folded into the kernel: the centre tap gets ``weight + 1``, so the sum
    needs no extra pass over the map, no buffer and, in training, no gradient sum. Same
    parameters as the 3x3 depthwise ``nn.Conv2d`` it replaces (the identity is a
    non-persistent buffer, not in the state dict).
    """

    def __init__(self, channels: int):
        super().__init__(channels, channels, 3, padding=1, groups=channels)
        identity = torch.zeros(channels, 1, 3, 3)
        identity[:, :, 1, 1] = 1.
        self.register_buffer('identity', identity, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = channels_last_weight(self.weight + self.identity)
        return self._conv_forward(x, weight, self.bias)


def no_autograd() -> bool:
    """True when nothing is recorded for a backward (inference, no tracing or compiling):
    then a layer may overwrite its own fresh output in place (saves a buffer the size of the
    activations and its page faults on CPU). Under autograd the backward may need the value,
    and an in-place op on a view (linear and conv outputs often are views) costs copies."""
    return not (torch.is_grad_enabled() or torch.jit.is_tracing()
                or torch.compiler.is_compiling())


def add_residual(branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``branch + x``, for a ``branch`` that is a new tensor (a layer's output): written into
    ``branch`` when :func:`no_autograd`, else out of place."""
    return branch.add_(x) if no_autograd() else branch + x


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
