# SoLA-Vision-T on ImageNet-1K, 224x224: 300 epochs, 1024 images per iteration (8 GPUs x 128),
# AdamW 1e-3, cosine decay after 20 linear warm-up epochs, RandAugment, Mixup/CutMix, label
# smoothing 0.1, EMA of the weights and self-distillation from it (MESA).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py', '../_base_/sola_archs.py',
    '../_base_/sola_hooks.py'
]
custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)

model = dict(
    type='SoLAVisionCls',
    arch='tiny',
    num_classes=1000,
    backbone=dict(drop_path_rate=_base_.sola_archs.tiny.drop_path_in1k),
    head=dict(
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=128)  # x 8 GPUs = 1024 images per iteration
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))

# MLLA's recipe (its main.py): EMA of the weights, and from 25% of the epochs on the
# self-distillation term loss += w * CE(logits, softmax(EMA logits)) ("MESA"; w = 1.0 / 1.5 /
# 2.0 for T / S / B, sola_archs.*.mesa_in1k). momentum 1e-4 ~ 1 - MLLA's 0.9996 ** (1024 / 4096).
# Then the hooks every mmsola config runs (configs/_base_/sola_hooks.py).
ema_hook = dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')
mesa_hook = dict(type='MESAHook', weight=_base_.sola_archs.tiny.mesa_in1k, begin_ratio=0.25)
custom_hooks = [ema_hook, mesa_hook, *_base_.reliability_hooks]
default_hooks = dict(
    logger=_base_.rank_zero_logger,
    checkpoint=dict(
        _delete_=True, **_base_.atomic_checkpoint, interval=1, max_keep_ckpts=3,
        save_best='accuracy/top1', rule='greater'))
