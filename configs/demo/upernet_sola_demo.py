# The CPU demo (demo/run_demo.py, `make demo`): UperNet-SoLA trained from scratch on the
# synthetic ADE20K-layout dataset of demo/ (data/sola_demo: 200 train / 50 val images,
# 128x128, 8 classes). Everything is the real UperNet-SoLA-T config except what must shrink to
# train in minutes on 2 CPU cores: image size, a narrower and shallower backbone that keeps
# global softmax blocks in stages 3 and 4, decoder width, batch, schedule, and no pretraining.
_base_ = ['../upernet/upernet_sola_t_ade20k.py']

data_root = 'data/sola_demo'
# demo/classes.py, METAINFO (a test checks that they agree); label 0 in the PNGs is unlabelled.
metainfo = dict(
    classes=('sky', 'grass', 'water', 'tree', 'house', 'rock', 'car', 'boat'),
    palette=[[110, 170, 250], [60, 180, 75], [0, 60, 170], [0, 100, 20], [170, 60, 200],
             [128, 128, 128], [230, 25, 75], [255, 160, 40]])
num_classes = 8
crop_size = (128, 128)
max_iters = 1000
warmup_iters = 50
val_interval = 100

# widths 32..256, head dim 32; 'S' = global softmax attention, in stages 3 and 4 as SoLA does
channels = [32, 64, 128, 256]
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=channels[0], num_heads=[1, 2, 4, 8],
                  layer_pattern=['L', 'L', 'LSL', 'S']),
        drop_path_rate=0.,
        init_cfg=None),  # trained from scratch: no ImageNet checkpoint needed
    decode_head=dict(in_channels=channels, channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=channels[2], channels=32, num_classes=num_classes))

# the dataset's 128x128 images take the place of ADE20K's 512-pixel short side
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(512, 128), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=10,
    num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader

# from scratch: a larger learning rate than fine-tuning's 6e-5 (2e-3 learned the small object
# classes faster than 1e-3 in a 1000-iteration run), short warm-up, poly decay to zero
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0., power=1., begin=warmup_iters, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=10),  # a log line (loss, ETA) every 10 iterations
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
