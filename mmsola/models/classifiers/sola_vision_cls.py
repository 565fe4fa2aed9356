"""``SoLAVisionCls``: mmpretrain's ImageClassifier around the SoLA-Vision backbone.

Registered in mmengine's root MODELS as a builder function, so a config can say::

    model = dict(type='SoLAVisionCls', arch='tiny', num_classes=1000,
                 backbone=dict(drop_path_rate=0.2), head=dict(topk=(1, 5)))

mmpretrain is imported only when the classifier is built; ``import mmsola`` needs only torch
and mmengine.
"""
from typing import Optional, Union

from mmengine.registry import MODELS, DefaultScope

from ...utils import import_toolkit
from ..backbones.sola_vision import NUM_STAGES, SoLAVision
from ..foreign_checkpoints import move_foreign_classifier_keys

ARCH_FIELDS = ('embed_dims', 'depths', 'num_heads', 'layer_pattern')


def build_sola_vision_cls(arch: Union[str, dict] = 'tiny',
                          num_classes: int = 1000,
                          backbone: Optional[dict] = None,
                          neck: Optional[dict] = None,
                          head: Optional[dict] = None,
                          data_preprocessor: Optional[dict] = None,
                          train_cfg: Optional[dict] = None,
                          init_cfg: Optional[dict] = None,
                          **backbone_overrides):
    """Build ``mmpretrain.models.ImageClassifier``: SoLAVision -> GlobalAveragePooling ->
    LinearClsHead (CrossEntropyLoss).

    Args:
        arch (str | dict): backbone arch (see ``SoLAVision.arch_zoo``).
        num_classes (int): classes of the head.
        backbone (dict, optional): SoLAVision arguments that override the defaults
            (``out_indices=(3, )``); the head's ``in_channels`` follows the last output.
        neck (dict, optional): replaces the GlobalAveragePooling neck.
        head (dict, optional): keys merged into the LinearClsHead config (e.g. ``loss``,
            ``topk``, ``cal_acc``).
        data_preprocessor, train_cfg, init_cfg: passed to ImageClassifier (train_cfg takes
            e.g. Mixup/CutMix ``augments``).
        **backbone_overrides: more SoLAVision arguments (e.g. ``layer_pattern``, ``hsb``).

    Raises:
        ImportError: mmpretrain is not installed, or its version is unsupported.
    """
    import_toolkit('mmpretrain')  # clear errors for a missing or unsupported mmpretrain
    from mmpretrain.models import ImageClassifier

    backbone_cfg = dict(type='SoLAVision', arch=arch, out_indices=(NUM_STAGES - 1, ))
    backbone_cfg.update(backbone or {})
    backbone_cfg.update(backbone_overrides)
    settings = SoLAVision.resolve_arch(
        backbone_cfg['arch'], **{k: backbone_cfg.get(k) for k in ARCH_FIELDS})
    out_indices = backbone_cfg['out_indices']
    out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    last_stage = max(i % NUM_STAGES for i in out_indices)
    head_cfg = dict(
        type='mmpretrain.LinearClsHead',
        num_classes=num_classes,
        in_channels=settings['embed_dims'] * 2**last_stage,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0))
    head_cfg.update(head or {})
    neck_cfg = neck if neck is not None else dict(type='mmpretrain.GlobalAveragePooling')
    # ImageClassifier builds its parts (ClsDataPreprocessor, batch augments) by bare names:
    # resolve them in mmpretrain whatever scope the caller is in
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = ImageClassifier(backbone=backbone_cfg, neck=neck_cfg, head=head_cfg,
                                train_cfg=train_cfg, data_preprocessor=data_preprocessor,
                                init_cfg=init_cfg)
    # a foreign classifier's state dict (load_from = MLLA's URL) loads too: its keys go under
    # backbone. (converted there by SoLAVision) and its head into head.fc
    model.register_load_state_dict_pre_hook(move_foreign_classifier_keys)
    return model


MODELS.register_module(name='SoLAVisionCls', module=build_sola_vision_cls)
