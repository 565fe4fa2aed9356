# Mask R-CNN + FPN + SoLA-Vision-T on COCO, 1x schedule: 12 epochs, lr steps at 8 and 11,
# 16 images per iteration (8 GPUs x 2), AdamW 1e-4, weight decay 0.05, single-scale 1333x800.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', 'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py',
    '../_base_/sola_archs.py', '../_base_/sola_hooks.py'
]
# MLLA-T's published ImageNet-1K classifier, downloaded once into $TORCH_HOME/hub/checkpoints
# and converted on load: exact for the 'L' blocks, a warm start for the 'S' blocks, which the
# training fine-tunes (docs/en/user_guides/pretrained.md). From a file instead (your own SoLA
# classifier through cls2backbone.py, or MLLA's file offline): pretrained = 'PATH'.
pretrained = 'https://cloud.tsinghua.edu.cn/f/7a19712877cb4242889c/?dl=1'
custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='SoLAVision',
        arch='tiny',
        drop_path_rate=_base_.sola_archs.tiny.drop_path_dense,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.sola_archs.tiny.channels))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11],
         gamma=0.1),
]
# AdamW; no weight decay on norms, biases and other 1-D parameters (the HSB scale).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))
auto_scale_lr = dict(enable=False, base_batch_size=16)

# RNG states in checkpoints, a stop at a NaN loss, dataset checks (configs/_base_/sola_hooks.py)
custom_hooks = [*_base_.reliability_hooks]
default_hooks = dict(
    logger=_base_.rank_zero_logger,
    checkpoint=dict(
        _delete_=True, **_base_.atomic_checkpoint, interval=1, max_keep_ckpts=3,
        save_best='coco/bbox_mAP', rule='greater'))
