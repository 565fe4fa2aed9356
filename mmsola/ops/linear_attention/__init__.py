from .flops import linear_attention_flop_handle, linear_attention_flops
from .interface import BACKEND_ENV_VAR, linear_attention, select_backend
from .naive import linear_attention_torch
from .op import LINEAR_ATTENTION_BWD_OP_NAME, LINEAR_ATTENTION_OP_NAME

__all__ = [
    'linear_attention', 'linear_attention_torch', 'select_backend', 'BACKEND_ENV_VAR',
    'LINEAR_ATTENTION_OP_NAME', 'LINEAR_ATTENTION_BWD_OP_NAME', 'linear_attention_flops',
    'linear_attention_flop_handle'
]
