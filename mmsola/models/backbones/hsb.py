"""HSB, the SoLA-Vision paper's cross-stage module: it feeds early, high-resolution features
into stage 3 (the paper does not detail it; this design is a reconstruction,
docs/en/advanced_guides/models.md)."""
from typing import Sequence

import torch
from torch import nn


class HSB(nn.Module):
    """Bring stage outputs to stage-3 resolution, project, sum, scale (zero init).

    For each input (B, C_i, h_i, w_i) with stride ``s_i`` relative to stage 3: a depthwise
    conv (kernel 2s-1, stride s, padding s-1, so sizes become ceil(h_i / s)) + BN, then a
    1x1 conv to ``out_channels``. The sum is multiplied by a learnable per-channel scale
    initialised to zero, so adding the result to the stage-3 input starts as the identity.

    Args:
        in_channels (Sequence[int]): channels of the inputs (stage 1 and stage 2: C, 2C).
        strides (Sequence[int]): downsampling factor of each input (4, 2).
        out_channels (int): stage-3 width (4C).
    """

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], out_channels: int):
        super().__init__()
        if len(in_channels) != len(strides):
            raise ValueError(f'HSB got {len(in_channels)} in_channels but {len(strides)} '
                             'strides')
        self.branches = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(c, c, 2 * s - 1, stride=s, padding=s - 1, groups=c, bias=False),
                nn.BatchNorm2d(c),
                nn.Conv2d(c, out_channels, 1)) for c, s in zip(in_channels, strides)
        ])
        self.scale = nn.Parameter(torch.zeros(out_channels))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``feats``: the maps in the order of ``in_channels``; returns (B, out, h3, w3)."""
        out = sum(branch(f) for branch, f in zip(self.branches, feats))
        return out * self.scale.view(1, -1, 1, 1)
