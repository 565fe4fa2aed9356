"""Small SoLA-Vision configurations for fast CPU tests (widths 16..128, head dim 8)."""
import math

import torch

from mmsola.models import SoLAVision

SMALL = dict(arch='tiny', embed_dims=16, layer_pattern=['L', 'LS', 'LH', 'S'],
             drop_path_rate=0.)


def small_backbone(**overrides) -> SoLAVision:
    """A 5-block SoLAVision with every block kind; keyword arguments override."""
    cfg = dict(SMALL)
    cfg.update(overrides)
    return SoLAVision(**cfg)


def expected_shapes(batch, hw, out_indices=(0, 1, 2, 3), embed_dims=16):
    """Stride 4, 8, 16, 32 maps, ceil sizes."""
    return [(batch, embed_dims * 2**i, math.ceil(hw[0] / 2**(i + 2)),
             math.ceil(hw[1] / 2**(i + 2))) for i in out_indices]


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fill every parameter and BN buffer with random values (so HSB, zero-init parts, BN
    statistics all matter in comparisons)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                fill = torch.rand(t.shape, generator=gen) * 0.5 + 0.5 if 'running_var' in name \
                    else torch.randn(t.shape, generator=gen) * 0.1
                t.copy_(fill)
    return module
