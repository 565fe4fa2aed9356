from .interface import linear_attention
from .naive import linear_attention_torch

__all__ = ['linear_attention', 'linear_attention_torch']
