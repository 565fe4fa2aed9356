# UperNet + SoLA-Vision-T on ADE20K, 512x512 crops, 160k iterations, 16 images per iteration
# (8 GPUs x 2), AdamW 6e-5 with 1500 linear warm-up iterations then poly decay.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py',
    '../_base_/sola_archs.py', '../_base_/sola_hooks.py'
]
# MLLA-T's published ImageNet-1K classifier, downloaded once into $TORCH_HOME/hub/checkpoints
# and converted on load: exact for the 'L' blocks, a warm start for the 'S' blocks, which the
# training fine-tunes (docs/en/user_guides/pretrained.md). From a file instead (your own SoLA
# classifier through cls2backbone.py, or MLLA's file offline): pretrained = 'PATH'.
pretrained = 'https://cloud.tsinghua.edu.cn/f/7a19712877cb4242889c/?dl=1'
custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='SoLAVision',
        arch='tiny',
        drop_path_rate=_base_.sola_archs.tiny.drop_path_dense,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=_base_.sola_archs.tiny.channels, num_classes=150),
    auxiliary_head=dict(in_channels=_base_.sola_archs.tiny.channels[2], num_classes=150))

# AdamW; no weight decay on norms, biases and other 1-D parameters (the HSB scale).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0., power=1., begin=1500, end=160000, by_epoch=False),
]

train_dataloader = dict(batch_size=2)  # x 8 GPUs = 16 images per iteration
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=16)

# RNG states in checkpoints, a stop at a NaN loss, dataset checks (configs/_base_/sola_hooks.py)
custom_hooks = [*_base_.reliability_hooks]
default_hooks = dict(
    logger=_base_.rank_zero_logger,
    checkpoint=dict(
        _delete_=True, **_base_.atomic_checkpoint, by_epoch=False, interval=16000,
        max_keep_ckpts=3, save_best='mIoU', rule='greater'))
