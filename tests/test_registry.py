"""mmdet, mmseg and mmpretrain find mmsola's modules by name, from their own default scopes."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope, init_default_scope

from mmsola.models import SoLAVision

SMALL_BACKBONE = dict(type='SoLAVision', arch='tiny', embed_dims=16, num_heads=[1, 1, 2, 2],
                      layer_pattern=['L', 'L', 'LS', 'S'], out_indices=(0, 1, 2, 3))


def toolkit_registry(scope):
    module = pytest.importorskip(f'{scope}.registry')
    return module.MODELS


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_backbone_builds_from_each_toolkit_scope(scope):
    registry = toolkit_registry(scope)
    with DefaultScope.overwrite_default_scope(scope):
        backbone = registry.build(SMALL_BACKBONE)
    assert type(backbone) is SoLAVision
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 16, 16), (1, 32, 8, 8), (1, 64, 4, 4),
                                              (1, 128, 2, 2)]


def test_backbone_is_registered_once_in_the_root_registry():
    assert MODELS.get('SoLAVision') is SoLAVision
    assert 'SoLAVision' in MODELS.module_dict
    for scope in ('mmdet', 'mmseg', 'mmpretrain'):
        assert 'SoLAVision' not in toolkit_registry(scope).module_dict


def test_mmdet_detector_finds_the_backbone_through_custom_imports():
    """The path a user's config takes: custom_imports, then mmdet builds the whole model."""
    toolkit_registry('mmdet')
    cfg = Config(dict(
        custom_imports=dict(imports=['mmsola'], allow_failed_imports=False),
        model=dict(
            type='RetinaNet',
            data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
            backbone=SMALL_BACKBONE,
            neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=32, start_level=0,
                      num_outs=3),
            bbox_head=dict(
                type='RetinaHead', num_classes=3, in_channels=32, feat_channels=32,
                stacked_convs=1,
                anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                      scales_per_octave=1, ratios=[1.0],
                                      strides=[8, 16, 32]),
                bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                loss_cls=dict(type='FocalLoss', use_sigmoid=True),
                loss_bbox=dict(type='L1Loss')))))
    cfg.model.backbone.out_indices = (1, 2, 3)
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as DET_MODELS
    detector = DET_MODELS.build(cfg.model)
    assert type(detector.backbone) is SoLAVision
    feats = detector.extract_feat(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape[-2:]) for f in feats] == [(8, 12), (4, 6), (2, 3)]


def test_mmseg_segmentor_finds_the_backbone():
    toolkit_registry('mmseg')
    init_default_scope('mmseg')
    from mmseg.registry import MODELS as SEG_MODELS
    segmentor = SEG_MODELS.build(dict(
        type='EncoderDecoder',
        backbone=SMALL_BACKBONE,
        decode_head=dict(type='FCNHead', in_channels=128, in_index=3, channels=16,
                         num_convs=1, num_classes=5, norm_cfg=dict(type='BN'))))
    logits = segmentor(torch.randn(1, 3, 64, 64), mode='tensor')
    assert tuple(logits.shape) == (1, 5, 2, 2)


def test_mmpretrain_classifier_setup_builds_from_its_scope():
    registry = toolkit_registry('mmpretrain')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = registry.build(dict(
            type='SoLAVisionCls', num_classes=7,
            backbone={k: v for k, v in SMALL_BACKBONE.items() if k != 'type'}))
    assert type(classifier.backbone) is SoLAVision
    assert tuple(classifier(torch.randn(2, 3, 32, 32), mode='tensor').shape) == (2, 7)


def test_core_imports_with_torch_and_mmengine_only():
    """`import mmsola` and building the backbone work with no mmcv or toolkit installed."""
    code = ('import sys\n'
            "for name in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain'):\n"
            '    sys.modules[name] = None  # any import of them fails\n'
            'import torch, mmsola\n'
            'from mmengine.registry import MODELS\n'
            f'backbone = MODELS.build({SMALL_BACKBONE!r}).eval()\n'
            'print(len(backbone(torch.randn(1, 3, 32, 32))))\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '4'  # four feature maps
