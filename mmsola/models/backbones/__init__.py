from .attention import (
    AttentionMixer,
    HybridAttentionCore,
    LinearAttentionCore,
    SoftmaxAttentionCore,
)
from .hsb import HSB
from .layer_pattern import BLOCK_KINDS, parse_layer_pattern
from .sola_vision import SoLAVision

__all__ = [
    'SoLAVision', 'HSB', 'AttentionMixer', 'LinearAttentionCore', 'SoftmaxAttentionCore',
    'HybridAttentionCore', 'BLOCK_KINDS', 'parse_layer_pattern'
]
