from .linear_attention import (
    BACKEND_ENV_VAR,
    LINEAR_ATTENTION_BWD_OP_NAME,
    LINEAR_ATTENTION_OP_NAME,
    linear_attention,
    linear_attention_flop_handle,
    linear_attention_flops,
    linear_attention_torch,
)
from .rope import apply_rope_2d

__all__ = [
    'linear_attention', 'linear_attention_torch', 'apply_rope_2d', 'BACKEND_ENV_VAR',
    'LINEAR_ATTENTION_OP_NAME', 'LINEAR_ATTENTION_BWD_OP_NAME', 'linear_attention_flops',
    'linear_attention_flop_handle'
]
