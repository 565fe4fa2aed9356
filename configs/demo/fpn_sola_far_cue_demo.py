# The CPU default of the pattern study (projects/pattern_study/): a small SoLA-Vision with a
# Semantic-FPN head on the far-cue dataset (projects/pattern_study/far_cue.py; data/sola_far_cue,
# built by `python -m projects.pattern_study.make_far_cue_dataset`: 2000 train / 200 val images,
# 64x64). The class of the central grey bar is the colour of a marker bar near a corner, so the
# backbone must carry that colour across the image; the head adds no global context of its own
# (local convs, no pyramid pooling, unlike the demo's UperNet). The harder variant (two markers,
# the object takes the colour of the one with its orientation) is `make_far_cue_dataset.py
# --markers 2`.
_base_ = ['../upernet/upernet_sola_t_ade20k.py']

data_root = 'data/sola_far_cue'
# FAR_CUE_METAINFO of projects/pattern_study/far_cue.py (a test checks that they agree); the
# markers are background
metainfo = dict(
    classes=('background', 'red object', 'green object', 'blue object'),
    palette=[[120, 120, 120], [220, 40, 40], [40, 190, 60], [50, 80, 230]])
num_classes = 4
crop_size = (64, 64)
max_iters = 800
warmup_iters = 40

# widths 32..256, head dim 32, depths 1/2/4/2; the default hybrid puts one global softmax block
# at the end of stage 3 and one in stage 4 (SoLA's rule: softmax in stages 3-4 only)
channels = [32, 64, 128, 256]
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=channels[0], num_heads=[1, 2, 4, 8],
                  layer_pattern=['L', 'LL', 'LLLS', 'LS']),
        drop_path_rate=0.,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),  # trained from scratch
    # Semantic-FPN's head: per level 3x3 convs and 2x upsamplings to stride 4, summed; local
    # convs only, no global pooling, so what a pixel knows from afar the backbone brought there
    decode_head=dict(
        _delete_=True, type='FPNHead', in_channels=channels, in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32], channels=32, dropout_ratio=0.1,
        num_classes=num_classes, norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        # background (~93% of the pixels) at 0.2: at 1.0 (and lr 2e-3, 400 iterations) the
        # pilots predicted background only
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         class_weight=[0.2, 1.0, 1.0, 1.0])),
    auxiliary_head=None)

far_cue_dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
               img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomFlip', prob=0.5),  # every shape is left-right symmetric
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),  # the images' own size
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(**far_cue_dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=20, num_workers=1,
    dataset=dict(**far_cue_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=6e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0., power=1., begin=warmup_iters, end=max_iters,
         by_epoch=False),
]
# no validation pass while training: the study tests the final model once
train_cfg = dict(max_iters=max_iters, val_interval=max_iters, val_begin=max_iters + 1)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=50, max_keep_ckpts=1))  # every 50: a stopped run resumes

# What projects/pattern_study/pattern_study.py runs for this config when given no patterns:
# all-linear; the default hybrid; its two softmax blocks in stage 2 instead; 'H' blocks holding
# the same softmax heads per stage as the hybrid; all-softmax. Three seeds each.
pattern_study = dict(
    patterns=['L/LL/LLLL/LL', 'L/LL/LLLS/LS', 'L/SS/LLLL/LL', 'L/LL/LHLH/HH', 'S/SS/SSSS/SS'],
    seeds=3)
