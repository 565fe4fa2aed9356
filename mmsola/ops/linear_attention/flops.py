"""FLOP count of the linear-attention op, in the convention of mmengine.analysis / fvcore.

Convention: one multiply-add counts as one flop (as mmengine's and fvcore's matmul handles
do), and only the matrix products are counted; elementwise work (the feature map, RoPE, the
mean over tokens, scaling) is not. Per batch and head, for N tokens and head dim d::

    KV  = rope(phi(k))^T v        N * d * d
    out = rope(phi(q)) @ KV       N * d * d
    z   = phi(q) . mean_n phi(k)  N * d

This is also what mmengine counts for the same math written as matmuls (e.g. the reference
``linear_attention_torch`` traced by ``torch.jit``), so both backends count alike.

Use with mmengine's FlopAnalyzer (the op appears in ``torch.jit`` traces as one
``mmsola::linear_attention_fwd`` node, whatever the backend)::

    from mmengine.analysis import FlopAnalyzer
    from mmsola.ops import LINEAR_ATTENTION_OP_NAME, linear_attention_flop_handle

    flops = FlopAnalyzer(model, inputs).set_op_handle(
        LINEAR_ATTENTION_OP_NAME, linear_attention_flop_handle)
"""
from typing import Any, List


def linear_attention_flops(batch: int, heads: int, num_tokens: int, head_dim: int) -> int:
    """Multiply-adds of one linear-attention call on (batch, heads, num_tokens, head_dim)."""
    return batch * heads * num_tokens * head_dim * (2 * head_dim + 1)


def _shape(value: Any) -> List[int]:
    if hasattr(value, 'type') and hasattr(value.type(), 'sizes'):  # a torch._C.Value (jit)
        return list(value.type().sizes())
    return list(value.shape)


def linear_attention_flop_handle(inputs: List[Any], outputs: List[Any]) -> int:
    """mmengine.analysis op handle for ``mmsola::linear_attention_fwd``.

    ``inputs[0]`` is q, of shape (B, heads, N, d); ``outputs`` is not needed.
    """
    batch, heads, num_tokens, head_dim = _shape(inputs[0])
    return linear_attention_flops(batch, heads, num_tokens, head_dim)
