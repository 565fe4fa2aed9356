"""Every config loads through mmsola's loader and carries the recipe of the spec (section 4)."""
import pytest

from tests.support.configs import (
    CLS,
    CONFIG_DIR,
    DET,
    MLLA_FT,
    SEG,
    SHIPPED,
    arch_of,
    build_on_meta,
    load,
)

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmpretrain')

ALL_CONFIGS = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob('*.py')
                     if '_base_' not in p.parts)


def test_the_spec_configs_are_all_there():
    missing = sorted(set(SHIPPED) - set(ALL_CONFIGS))
    assert not missing, f'configs named by the spec but not in configs/: {missing}'


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_every_config_loads_imports_mmsola_and_saves_atomically_with_rng_states(name):
    cfg = load(name)
    assert cfg.custom_imports == dict(imports=['mmsola'], allow_failed_imports=False)
    assert cfg.default_scope in ('mmdet', 'mmseg', 'mmpretrain')
    hook = cfg.default_hooks.checkpoint
    assert hook.type == 'AtomicCheckpointHook'
    assert hook.backend_args == dict(backend='atomic_local'), 'checkpoints must save atomically'
    assert 'RNGStateHook' in [h['type'] for h in cfg.custom_hooks], \
        'checkpoints must hold the random generator states (exact resume)'
    assert hook.get('max_keep_ckpts', -1) > 0 and hook.get('save_best'), \
        'keep the last few checkpoints and the best'


def _backbone(cfg):
    return cfg.model.backbone


@pytest.mark.parametrize('name', SEG + DET)
def test_dense_configs_use_the_arch_and_its_imagenet_backbone(name):
    cfg = load(name)
    arch = arch_of(name)
    backbone = _backbone(cfg)
    assert backbone.type == 'SoLAVision' and backbone.arch == arch
    assert backbone.out_indices == (0, 1, 2, 3)
    assert backbone.drop_path_rate == cfg.sola_archs[arch].drop_path_dense
    init = backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    # MLLA's published ImageNet-1K weights of the arch (the one table of MLLA's files),
    # converted on load; the URL is one variable at the top of the file
    from mmsola.convert.mlla_weights import IN1K
    assert init.checkpoint == IN1K[arch].url
    assert init.checkpoint == cfg.pretrained


@pytest.mark.parametrize('name', SEG)
def test_upernet_recipe(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.type == 'EncoderDecoder' and cfg.model.decode_head.type == 'UPerHead'
    assert cfg.model.decode_head.num_classes == 150
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    crops = [t['crop_size'] for t in cfg.train_dataloader.dataset.pipeline
             if t['type'] == 'RandomCrop']
    assert crops == [(512, 512)] and cfg.model.data_preprocessor.size == (512, 512)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 6e-5, 0.01)
    warmup, decay = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1500 and not warmup.by_epoch
    assert decay.type == 'PolyLR' and decay.begin == 1500 and decay.end == 160000


@pytest.mark.parametrize('name', DET)
def test_mask_rcnn_recipe(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmdet' and cfg.model.type == 'MaskRCNN'
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert len(steps) == 1
    resizes = [t for t in cfg.train_dataloader.dataset.pipeline if 'Resize' in t['type']]
    assert len(resizes) == 1
    if '_1x_' in name:
        assert cfg.train_cfg.max_epochs == 12 and steps[0].milestones == [8, 11]
        assert resizes[0]['type'] == 'Resize' and resizes[0]['scale'] == (1333, 800)
    else:
        assert cfg.train_cfg.max_epochs == 36 and steps[0].milestones == [27, 33]
        scales = resizes[0].get('scales') or resizes[0].get('scale')
        assert isinstance(scales, list) and len(scales) > 1, 'the 3x recipe is multi-scale'


@pytest.mark.parametrize('name', CLS)
def test_imagenet_recipe(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.type == 'SoLAVisionCls' and cfg.model.arch == arch_of(name)
    assert cfg.model.backbone.drop_path_rate == cfg.sola_archs[arch_of(name)].drop_path_in1k
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.train_dataloader.dataset.data_root == 'data/imagenet'
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 20 and warmup.by_epoch
    assert cosine.type == 'CosineAnnealingLR' and cosine.begin == 20
    assert 'RandAugment' in [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert [a['type'] for a in cfg.model.train_cfg.augments] == ['Mixup', 'CutMix']
    assert cfg.model.head.loss.type == 'LabelSmoothLoss'
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert 'EMAHook' in [h['type'] for h in cfg.custom_hooks]


@pytest.mark.parametrize('name', SHIPPED + MLLA_FT)
def test_the_top_level_name_is_its_family_config(name):
    """``configs/<name>.py`` (the name the docs type) is a one-line config inheriting
    ``configs/<family>/<name>.py``: the same model, data, schedule and hooks, built alike."""
    family = CONFIG_DIR / ('sola' if name.startswith('sola_') else name.split('_sola_')[0])
    top, own = load(name), load(family / name)
    assert (CONFIG_DIR / name).read_text().count('\n') == 2  # a comment and the _base_ line
    assert top.to_dict() == own.to_dict()
    top_model, own_model = build_on_meta(top), build_on_meta(own)
    assert type(top_model) is type(own_model)
    assert {k: v.shape for k, v in top_model.state_dict().items()} == \
        {k: v.shape for k, v in own_model.state_dict().items()}
