from .linear_attention import linear_attention, linear_attention_torch
from .rope import apply_rope_2d

__all__ = ['linear_attention', 'linear_attention_torch', 'apply_rope_2d']
