"""MLLA's backbone keys and tensors -> SoLAVision's (torch only).

MLLA (github.com/LeapLabTHU/MLLA, ``models/mlla.py`` and ``downstream/*/models/backbones/
mlla.py``) and SoLAVision's all-'L' pattern are the same network; the state dicts differ in

* names: ``patch_embed`` -> ``stem``, ``layers.i`` -> ``stages.i`` (MLLA's downsample closes
  stage i, SoLAVision's opens stage i + 1), the mixer's linears and conv under ``mixer.``
  (``act_proj`` is the gate), the attention under ``mixer.core``;
* MLLA's RoPE tables (``attn.rope.rotations``, a buffer of the classification grid): dropped,
  SoLAVision computes the rotation for whatever grid arrives;
* the qk rows (:func:`qk_row_order`): MLLA rotates adjacent channel pairs of the full width;
  SoLAVision rotates the rotate-half pairs of each head, in MLLA's order of angles;
* the last 1x1 conv of each downsample, whose bias MLLA applies before the BatchNorm:
  folded into that BatchNorm's running mean (:func:`fold_bias_into_bn`), exact in eval mode;
  under batch statistics a constant bias cancels anyway.
"""
import re
from typing import Dict, List, Optional, Tuple

import torch

# MLLA stem (ConvLayer = conv + norm) -> SoLAVision Stem (conv_bn = Sequential(conv, BN, ...))
_STEM = {
    'patch_embed.conv1.conv.': 'stem.conv1.0.',
    'patch_embed.conv1.norm.': 'stem.conv1.1.',
    'patch_embed.conv2.0.conv.': 'stem.res.0.0.',
    'patch_embed.conv2.0.norm.': 'stem.res.0.1.',
    'patch_embed.conv2.1.conv.': 'stem.res.1.0.',
    'patch_embed.conv2.1.norm.': 'stem.res.1.1.',
    'patch_embed.conv3.0.conv.': 'stem.conv2.0.0.',
    'patch_embed.conv3.0.norm.': 'stem.conv2.0.1.',
    'patch_embed.conv3.1.conv.': 'stem.conv2.1.0.',
    'patch_embed.conv3.1.norm.': 'stem.conv2.1.1.',
}
# inside a block: MLLABlock -> SoLABlock
_BLOCK = {
    'cpe1.': 'cpe1.', 'norm1.': 'norm1.',
    'act_proj.': 'mixer.gate_proj.', 'in_proj.': 'mixer.in_proj.', 'dwc.': 'mixer.dwconv.',
    'attn.qk.': 'mixer.core.qk.', 'attn.lepe.': 'mixer.core.lepe.',
    'out_proj.': 'mixer.out_proj.',
    'cpe2.': 'cpe2.', 'norm2.': 'norm2.', 'mlp.fc1.': 'mlp.fc1.', 'mlp.fc2.': 'mlp.fc2.',
}
# inside a downsample: PatchMerging.conv (ConvLayer x 3) -> MBConvDownsample
_DOWNSAMPLE = {
    'conv.0.conv.': 'expand.', 'conv.1.conv.': 'dwconv.',
    'conv.2.conv.weight': 'project.0.weight', 'conv.2.norm.': 'project.1.',
}
DOWNSAMPLE_BIAS = 'conv.2.conv.bias'  # folded into project.1 (the BN), see fold_bias_into_bn
ROPE_TABLE = 'attn.rope.rotations'

_BLOCK_KEY = re.compile(r'^layers\.(\d+)\.blocks\.(\d+)\.(.+)$')
_DOWNSAMPLE_KEY = re.compile(r'^layers\.(\d+)\.downsample\.(.+)$')
_OUT_NORM_KEY = re.compile(r'^norm(\d*)\.(weight|bias)$')


def _rename(table: Dict[str, str], rest: str) -> Optional[str]:
    for old, new in table.items():
        if rest == old or (old.endswith('.') and rest.startswith(old)):
            return new + rest[len(old):]
    return None


def map_backbone_key(key: str, final_norm_stage: int = 3) -> Tuple[str, Optional[str]]:
    """What becomes of MLLA backbone key ``key`` (without any ``backbone.`` prefix).

    Returns:
        ``(action, new_key)``, action one of ``'map'``, ``'qk'`` (map and permute rows),
        ``'drop'`` (RoPE table), ``'fold'`` (downsample bias; ``new_key`` is the BN's
        prefix), ``'unknown'`` (``new_key`` None). MLLA's classifier ``norm.*`` (after the
        last stage) becomes ``norm{final_norm_stage}.*``; the downstream ``norm<i>.*`` keep
        their names.
    """
    m = _BLOCK_KEY.match(key)
    if m:
        stage, block, rest = m.groups()
        if rest == ROPE_TABLE:
            return 'drop', None
        new = _rename(_BLOCK, rest)
        if new is None:
            return 'unknown', None
        action = 'qk' if rest.startswith('attn.qk.') else 'map'
        return action, f'stages.{stage}.blocks.{block}.{new}'
    m = _DOWNSAMPLE_KEY.match(key)
    if m:
        stage, rest = int(m.group(1)), m.group(2)
        prefix = f'stages.{stage + 1}.downsample.'
        if rest == DOWNSAMPLE_BIAS:
            return 'fold', prefix + 'project.1.'
        new = _rename(_DOWNSAMPLE, rest)
        return ('map', prefix + new) if new is not None else ('unknown', None)
    new = _rename(_STEM, key)
    if new is not None:
        return 'map', new
    m = _OUT_NORM_KEY.match(key)
    if m:
        stage = m.group(1) or str(final_norm_stage)
        return 'map', f'norm{stage}.{m.group(2)}'
    return 'unknown', None


def qk_row_order(embed_dims: int, num_heads: int) -> torch.Tensor:
    """Row order ``src`` with ``qk_sola[r] = qk_mlla[src[r]]`` for one of q or k (C rows).

    MLLA turns channel pair ``(2P, 2P + 1)`` of the full width C by angle ``P`` (rows for
    ``P < C/4``, columns above). SoLAVision turns the rotate-half pair ``(h*d + p,
    h*d + p + d/2)`` of head h by the angle of global pair ``P = h*d/2 + p``. The rows of
    head h are MLLA's channels ``h*d .. h*d + d - 1`` either way (so v and the output are
    untouched), only their order within the head changes.
    """
    d = embed_dims // num_heads
    order = torch.empty(embed_dims, dtype=torch.long)
    for h in range(num_heads):
        for p in range(d // 2):
            pair = h * d // 2 + p
            order[h * d + p] = 2 * pair
            order[h * d + p + d // 2] = 2 * pair + 1
    return order


def permute_qk(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    """MLLA's ``attn.qk`` weight (2C, C) or bias (2C,) in SoLAVision's row order (the q
    half and the k half alike, see :func:`qk_row_order`)."""
    width = tensor.shape[0] // 2
    order = qk_row_order(width, num_heads).to(tensor.device)
    return torch.cat([tensor[:width][order], tensor[width:][order]])


def fold_bias_into_bn(bias: torch.Tensor, running_mean: torch.Tensor) -> torch.Tensor:
    """``BN(conv(x) + b) == BN'(conv(x))`` with ``BN'.running_mean = running_mean - b``
    (eval mode; in training the batch mean absorbs ``b``)."""
    return running_mean - bias.to(running_mean.dtype)


def softmax_core_from_linear(qk_weight: torch.Tensor, qk_bias: torch.Tensor
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Warm start of an 'S' core's ``qkv`` from an 'L' core's (converted) ``qk``: q and k
    rows copied, v the identity (as 'L' takes v = y), v's bias zero."""
    width = qk_weight.shape[1]
    eye = torch.eye(width, dtype=qk_weight.dtype, device=qk_weight.device)
    zeros = torch.zeros(width, dtype=qk_bias.dtype, device=qk_bias.device)
    return torch.cat([qk_weight, eye]), torch.cat([qk_bias, zeros])


def mlla_structure(state: Dict[str, torch.Tensor]) -> Tuple[int, List[int]]:
    """``(embed_dims, depths)`` of an MLLA backbone state dict (no prefix).

    Raises:
        KeyError: no ``patch_embed.conv3.1.conv.weight`` or no ``layers.<i>.blocks.<j>``.
    """
    embed_dims = state['patch_embed.conv3.1.conv.weight'].shape[0]
    blocks: Dict[int, set] = {}
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    if not blocks:
        raise KeyError('layers.<i>.blocks.<j>')
    depths = [len(blocks.get(i, ())) for i in range(max(blocks) + 1)]
    return int(embed_dims), depths
