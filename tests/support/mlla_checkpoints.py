"""MLLA checkpoints as the converter meets them, described from MLLA's and mmdet 2.x / mmseg 0.x
source (github.com/LeapLabTHU/MLLA at 66b6d29: models/mlla.py, downstream/detection/mmdet
2.25.2, downstream/segmentation/mmseg 0.28.0), independently of mmsola's mapping tables.

:func:`mlla_shapes` is checked against the state dicts MLLA's own code made for the fixture
(tests/data/mlla_fixture.pth), so the full-size T / S / B key sets built from it are MLLA's.
The tensors live on the meta device: no memory, no large files.
"""
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch

NUM_COCO_CLASSES = 80
NUM_ADE_CLASSES = 150
BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def _bn(out: dict, prefix: str, channels: int) -> None:
    for name in BN:
        out[prefix + name] = () if name == 'num_batches_tracked' else (channels, )


def _conv(out: dict, prefix: str, cout: int, cin: int, k: int, bias: bool = True) -> None:
    out[prefix + 'weight'] = (cout, cin, k, k)
    if bias:
        out[prefix + 'bias'] = (cout, )


def mlla_shapes(embed_dim: int, depths: Sequence[int], num_classes: int = 1000,
                img_size: int = 224, downstream: bool = False) -> 'OrderedDict[str, Tuple]':
    """MLLA's state dict as {key: shape}: the classifier (``models/mlla.py``), or with
    ``downstream`` the mmdet / mmseg backbone (no ``norm`` / ``head``; ``norm0..3``)."""
    out: Dict[str, Tuple] = OrderedDict()
    half = embed_dim // 2
    stem = [('conv1', half, 3, 3), ('conv2.0', half, half, 3), ('conv2.1', half, half, 3),
            ('conv3.0', 4 * embed_dim, half, 3), ('conv3.1', embed_dim, 4 * embed_dim, 1)]
    for name, cout, cin, k in stem:  # ConvLayer(bias=False) + BatchNorm2d
        _conv(out, f'patch_embed.{name}.conv.', cout, cin, k, bias=False)
        _bn(out, f'patch_embed.{name}.norm.', cout)
    res = img_size // 4
    for i, depth in enumerate(depths):
        dim, grid = embed_dim * 2**i, res // 2**i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}.'
            _conv(out, p + 'cpe1.', dim, 1, 3)
            out[p + 'norm1.weight'] = out[p + 'norm1.bias'] = (dim, )
            for lin in ('in_proj', 'act_proj'):
                out[p + lin + '.weight'], out[p + lin + '.bias'] = (dim, dim), (dim, )
            _conv(out, p + 'dwc.', dim, 1, 3)
            out[p + 'attn.qk.weight'], out[p + 'attn.qk.bias'] = (2 * dim, dim), (2 * dim, )
            _conv(out, p + 'attn.lepe.', dim, 1, 3)
            out[p + 'attn.rope.rotations'] = (grid, grid, dim // 2, 2)
            out[p + 'out_proj.weight'], out[p + 'out_proj.bias'] = (dim, dim), (dim, )
            _conv(out, p + 'cpe2.', dim, 1, 3)
            out[p + 'norm2.weight'] = out[p + 'norm2.bias'] = (dim, )
            out[p + 'mlp.fc1.weight'], out[p + 'mlp.fc1.bias'] = (4 * dim, dim), (4 * dim, )
            out[p + 'mlp.fc2.weight'], out[p + 'mlp.fc2.bias'] = (dim, 4 * dim), (dim, )
        if i < len(depths) - 1:  # PatchMerging: 1x1 expand, dw 3x3 s2, 1x1 + BN, ratio 4
            p, hidden = f'layers.{i}.downsample.conv.', 8 * dim
            _conv(out, p + '0.conv.', hidden, dim, 1)
            _conv(out, p + '1.conv.', hidden, 1, 3)
            _conv(out, p + '2.conv.', 2 * dim, hidden, 1)
            _bn(out, p + '2.norm.', 2 * dim)
    last = embed_dim * 2**(len(depths) - 1)
    if downstream:
        for i in range(len(depths)):
            out[f'norm{i}.weight'] = out[f'norm{i}.bias'] = (embed_dim * 2**i, )
    else:
        out['norm.weight'] = out['norm.bias'] = (last, )
        out['head.weight'], out['head.bias'] = (num_classes, last), (num_classes, )
    return out


def mmdet2_mask_rcnn_shapes(channels: Sequence[int]) -> 'OrderedDict[str, Tuple]':
    """mmdet 2.25's FPN + RPNHead + StandardRoIHead(Shared2FCBBoxHead, FCNMaskHead), as
    MLLA's ``mask_rcnn_swin_fpn.py`` builds them (module names from mmdet 2.25's source)."""
    out: Dict[str, Tuple] = OrderedDict()
    for i, c in enumerate(channels):  # ConvModule without norm: .conv with bias
        _conv(out, f'neck.lateral_convs.{i}.conv.', 256, c, 1)
        _conv(out, f'neck.fpn_convs.{i}.conv.', 256, 256, 3)
    _conv(out, 'rpn_head.rpn_conv.', 256, 256, 3)
    _conv(out, 'rpn_head.rpn_cls.', 3, 256, 1)  # 3 anchors x 1 (sigmoid)
    _conv(out, 'rpn_head.rpn_reg.', 12, 256, 1)
    p = 'roi_head.bbox_head.'
    out[p + 'fc_cls.weight'], out[p + 'fc_cls.bias'] = (81, 1024), (81, )
    out[p + 'fc_reg.weight'], out[p + 'fc_reg.bias'] = (320, 1024), (320, )
    out[p + 'shared_fcs.0.weight'], out[p + 'shared_fcs.0.bias'] = (1024, 256 * 49), (1024, )
    out[p + 'shared_fcs.1.weight'], out[p + 'shared_fcs.1.bias'] = (1024, 1024), (1024, )
    p = 'roi_head.mask_head.'
    for i in range(4):
        _conv(out, f'{p}convs.{i}.conv.', 256, 256, 3)
    out[p + 'upsample.weight'], out[p + 'upsample.bias'] = (256, 256, 2, 2), (256, )
    _conv(out, p + 'conv_logits.', NUM_COCO_CLASSES, 256, 1)
    return out


def mlla_t_mask_rcnn_shapes() -> 'OrderedDict[str, Tuple]':
    """MLLA-T's Mask R-CNN file (mmdet 2.x): its backbone under ``backbone.``, FPN and heads."""
    shapes = OrderedDict((f'backbone.{k}', s) for k, s in mlla_shapes(
        64, (2, 4, 8, 4), downstream=True).items())
    shapes.update(mmdet2_mask_rcnn_shapes([64, 128, 256, 512]))
    return shapes


def mmseg0_upernet_shapes(channels: Sequence[int]) -> 'OrderedDict[str, Tuple]':
    """mmseg 0.28's UPerHead + FCNHead (auxiliary) as MLLA's ``upernet_swin.py`` builds them
    (ConvModule with BN: ``.conv`` without bias, ``.bn``)."""
    out: Dict[str, Tuple] = OrderedDict()

    def conv_bn(prefix, cout, cin, k):
        _conv(out, prefix + 'conv.', cout, cin, k, bias=False)
        _bn(out, prefix + 'bn.', cout)

    p = 'decode_head.'
    _conv(out, p + 'conv_seg.', NUM_ADE_CLASSES, 512, 1)
    for i in range(4):
        conv_bn(f'{p}psp_modules.{i}.1.', 512, channels[-1], 1)
    conv_bn(p + 'bottleneck.', 512, channels[-1] + 4 * 512, 3)
    for i, c in enumerate(channels[:-1]):
        conv_bn(f'{p}lateral_convs.{i}.', 512, c, 1)
        conv_bn(f'{p}fpn_convs.{i}.', 512, 512, 3)
    conv_bn(p + 'fpn_bottleneck.', 512, 4 * 512, 3)
    p = 'auxiliary_head.'
    _conv(out, p + 'conv_seg.', NUM_ADE_CLASSES, 256, 1)
    conv_bn(p + 'convs.0.', 256, channels[2], 3)
    return out


def meta_state(shapes: Dict[str, Tuple]) -> 'OrderedDict[str, torch.Tensor]':
    """{key: shape} -> a state dict of meta tensors (int64 step counters, else fp32)."""
    return OrderedDict(
        (k, torch.empty(s, device='meta',
                        dtype=torch.int64 if k.endswith('num_batches_tracked') else None))
        for k, s in shapes.items())


def shared_storage_state(shapes: Dict[str, Tuple]) -> 'OrderedDict[str, torch.Tensor]':
    """{key: shape} -> a real state dict whose float tensors are all views of one zero
    storage (the size of the largest), so a full-size file takes a few MB on disk."""
    sizes = [torch.Size(s).numel() for s in shapes.values()]
    storage = torch.zeros(max(sizes))
    return OrderedDict(
        (k, torch.zeros((), dtype=torch.int64) if k.endswith('num_batches_tracked')
         else storage[:n].view(s)) for (k, s), n in zip(shapes.items(), sizes))
