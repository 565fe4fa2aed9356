"""Stem, MBConv downsample, the SoLA block and a stage of blocks."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn
from torch.nn.functional import relu

from .attention import AttentionMixer
from .utils import (
    ChannelsLastConv2d,
    DropPath,
    ResidualDepthwiseConv2d,
    add_residual,
    depthwise_conv3x3,
    map_to_tokens,
    no_autograd,
    tokens_to_map,
)


def pad_bottom_right(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad (B, C, h, w) at the bottom and right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            act: bool = True) -> nn.Sequential:
    """Conv (no bias) + BN (+ ReLU); 'same' padding, so stride 2 gives ceil sizes.

    The conv runs channels-last (:class:`ChannelsLastConv2d`), like every conv of the backbone.
    """
    layers = [ChannelsLastConv2d(in_channels, out_channels, kernel_size, stride=stride,
                                 padding=kernel_size // 2, bias=False),
              nn.BatchNorm2d(out_channels)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Stem(nn.Module):
    """Convolutional stem, output stride 4: (B, 3, H, W) -> (B, C, ceil(H/4), ceil(W/4)).

    conv3x3 s2 (C/2) + BN + ReLU; x += [conv3x3 + BN + ReLU, conv3x3 + BN](x) (C/2);
    conv3x3 s2 (4C) + BN + ReLU; conv1x1 (C) + BN.

    ``pad_to > 1``: first zero-pad the image at the bottom and right to a multiple of
    ``pad_to`` (MLLA's downstream stem does so with 4); the output size is the same.
    """

    def __init__(self, in_channels: int, embed_dims: int, pad_to: int = 1):
        super().__init__()
        self.pad_to = pad_to
        mid = embed_dims // 2
        self.conv1 = conv_bn(in_channels, mid, 3, stride=2)
        self.res = nn.Sequential(conv_bn(mid, mid, 3), conv_bn(mid, mid, 3, act=False))
        self.conv2 = nn.Sequential(conv_bn(mid, 4 * embed_dims, 3, stride=2),
                                   conv_bn(4 * embed_dims, embed_dims, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_to > 1:
            x = pad_bottom_right(x, self.pad_to)
        x = self.conv1(x)
        x = x + self.res(x)
        return self.conv2(x)


class MBConvDownsample(nn.Module):
    """MBConv-style downsample: (B, C_in, h, w) -> (B, C_out, ceil(h/2), ceil(w/2)).

    1x1 expand to ``expand_ratio * C_out`` + ReLU; depthwise 3x3 stride 2 + ReLU;
    1x1 to ``C_out`` + BN (the MLLA lineage: the expansion is relative to the output width).

    ``pad_odd``: zero-pad an odd map at the bottom / right before the 1x1 expand, as MLLA's
    downstream PatchMerging does (the padded row then enters the depthwise conv as
    ReLU(expand bias), not as the conv's zero padding); the output size is the same.
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: int = 4,
                 pad_odd: bool = False):
        super().__init__()
        self.pad_odd = pad_odd
        hidden = expand_ratio * out_channels
        self.expand = ChannelsLastConv2d(in_channels, hidden, 1)
        self.dwconv = depthwise_conv3x3(hidden, stride=2)
        self.act = nn.ReLU(inplace=True)
        self.project = conv_bn(hidden, out_channels, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_odd:
            x = pad_bottom_right(x, 2)
        # the 1x1 expand returns a view (see ChannelsLastConv2d): no in-place ReLU on it
        # under autograd, which would cost copies in the backward
        x = relu(self.expand(x), inplace=no_autograd())
        x = self.act(self.dwconv(x))
        return self.project(x)


class Mlp(nn.Module):
    """Linear (C -> ratio * C), GELU, Linear (ratio * C -> C) on (B, N, C) tokens."""

    def __init__(self, embed_dims: int, mlp_ratio: float = 4.):
        super().__init__()
        hidden = int(embed_dims * mlp_ratio)
        self.fc1 = nn.Linear(embed_dims, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        # the (B, N, ratio * C) hidden map is the largest activation: no second one
        x = torch.ops.aten.gelu_(x) if no_autograd() else self.act(x)
        return self.fc2(x)


class SoLABlock(nn.Module):
    """One block on (B, N, C) tokens of an (h, w) grid::

        x += dwconv3x3(x)                       # positional
        x += DropPath(Mixer(LN(x)))             # kind 'L', 'S' or 'H'
        x += dwconv3x3(x)                       # positional
        x += DropPath(MLP(LN(x)))

    Args:
        embed_dims (int): channels C.
        num_heads (int): attention heads.
        kind (str): 'L', 'S' or 'H'.
        mlp_ratio (float): MLP hidden width / C.
        drop_path (float): stochastic depth probability of both residual branches.
        attn_backend (str): backend of the linear-attention op.
        with_cp (bool): recompute the block in backward (torch.utils.checkpoint).
    """

    def __init__(self, embed_dims: int, num_heads: int, kind: str = 'L',
                 mlp_ratio: float = 4., drop_path: float = 0., attn_backend: str = 'auto',
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.cpe1 = ResidualDepthwiseConv2d(embed_dims)  # x + dwconv3x3(x)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.mixer = AttentionMixer(embed_dims, num_heads, kind, attn_backend)
        self.cpe2 = ResidualDepthwiseConv2d(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = Mlp(embed_dims, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def _forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        # The convs read and write channels-last maps, which are views of the tokens
        # (see utils.ChannelsLastConv2d), so no branch copies the tokens; the positional
        # convs include their residual (utils.ResidualDepthwiseConv2d).
        x = map_to_tokens(self.cpe1(tokens_to_map(x, hw)))
        x = add_residual(self.drop_path(self.mixer(self.norm1(x), hw)), x)
        x = map_to_tokens(self.cpe2(tokens_to_map(x, hw)))
        return add_residual(self.drop_path(self.mlp(self.norm2(x))), x)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        if self.with_cp and torch.is_grad_enabled():
            # non-reentrant: parameter gradients flow even when x needs none; the RNG state
            # is restored on recomputation, so DropPath draws the same mask.
            return cp.checkpoint(self._forward, x, hw, use_reentrant=False)
        return self._forward(x, hw)


class SoLAStage(nn.Module):
    """Optional MBConv downsample, then blocks of the kinds in ``pattern``.

    Input (B, C_in, h, w); output (B, C, h', w') with h' = ceil(h/2) when downsampling.

    Args:
        in_channels (int): channels of the input map.
        embed_dims (int): channels C of this stage.
        num_heads (int): heads of every block.
        pattern (str): one character per block ('L', 'S', 'H').
        drop_paths (Sequence[float]): drop path probability per block.
        downsample (bool): whether the stage starts with a stride-2 MBConv downsample.
    """

    def __init__(self, in_channels: int, embed_dims: int, num_heads: int, pattern: str,
                 drop_paths: Sequence[float], downsample: bool = True, mlp_ratio: float = 4.,
                 attn_backend: str = 'auto', with_cp: bool = False):
        super().__init__()
        self.downsample = (MBConvDownsample(in_channels, embed_dims) if downsample else None)
        self.blocks = nn.ModuleList([
            SoLABlock(embed_dims, num_heads, kind, mlp_ratio, dp, attn_backend, with_cp)
            for kind, dp in zip(pattern, drop_paths)
        ])

    def forward(self, x: torch.Tensor, extra: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``extra`` (same shape as the downsampled map) is added before the blocks (HSB)."""
        if self.downsample is not None:
            x = self.downsample(x)
        if extra is not None:
            x = x + extra
        hw = (x.shape[2], x.shape[3])
        if torch.jit.is_tracing():  # jit (e.g. the FLOP counter) gives sizes as tensors
            hw = (int(hw[0]), int(hw[1]))
        x = map_to_tokens(x)
        for block in self.blocks:
            x = block(x, hw)
        return tokens_to_map(x, hw)
