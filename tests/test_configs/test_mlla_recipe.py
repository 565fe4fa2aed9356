"""MLLA's ImageNet recipe in the configs: every ImageNet config distils from its EMA model with
MLLA's MESA weight, and the MLLA fine-tune configs are their from-scratch ImageNet config but
for the weights they start from and a short, low-lr schedule (warm-up inside it, the softmax
blocks' qkv at 10x); tools/train.py's checkpoint check refuses an all-'L' conversion for them."""
import copy

import pytest
import torch

from tests.support.configs import CLS, MLLA_FT, arch_of, build_on_meta, load

pytest.importorskip('mmpretrain')

MESA_WEIGHTS = dict(tiny=1.0, small=1.5, base=2.0)  # MLLA's cfgs/mlla_{t,s,b}.yaml, AUG.MESA
SCHEDULE = {'load_from', 'train_cfg', 'optim_wrapper', 'param_scheduler'}


@pytest.mark.parametrize('name', CLS + MLLA_FT)
def test_imagenet_configs_distil_from_their_ema_with_mlla_weights(name):
    cfg = load(name)
    hooks = [h['type'] for h in cfg.custom_hooks]
    # EMA, then MESA on it, then the hooks every config runs
    assert hooks == ['EMAHook', 'MESAHook', 'RNGStateHook', 'FiniteLossHook', 'DatasetCheckHook']
    ema, mesa = cfg.custom_hooks[:2]
    assert ema['momentum'] == 1e-4
    assert mesa['weight'] == MESA_WEIGHTS[arch_of(name)]
    assert mesa['begin_ratio'] == 0.25


@pytest.mark.parametrize('name', MLLA_FT)
def test_finetune_is_its_in1k_config_but_for_weights_and_schedule(name):
    ft, scratch = load(name), load(name.replace('_mlla-ft', ''))
    ft_dict, scratch_dict = ft.to_dict(), scratch.to_dict()
    differ = {k for k in set(ft_dict) | set(scratch_dict)
              if ft_dict.get(k) != scratch_dict.get(k)}
    assert differ == SCHEDULE
    from mmsola.convert.mlla_weights import IN1K
    assert ft.load_from == IN1K[arch_of(name)].url, "MLLA's published weights, converted on load"
    assert 'layer_pattern' not in ft.model and 'layer_pattern' not in ft.model.backbone, \
        "the arch's default (hybrid) pattern, the one the checkpoint is converted to"
    # the optimizer: a tenth of the lr, and the from-scratch parameter rules plus the qkv ones
    opt, scratch_opt = ft.optim_wrapper, scratch.optim_wrapper
    assert opt.optimizer == dict(scratch_opt.optimizer, lr=scratch_opt.optimizer.lr / 10)
    keys = dict(opt.paramwise_cfg.custom_keys)
    assert {k: keys.pop(k) for k in ('.qkv.weight', '.qkv.bias')} == {
        '.qkv.weight': dict(lr_mult=10.0), '.qkv.bias': dict(lr_mult=10.0, decay_mult=0.0)}
    assert keys == scratch_opt.paramwise_cfg.custom_keys
    assert dict(opt.paramwise_cfg, custom_keys=None) == dict(scratch_opt.paramwise_cfg,
                                                             custom_keys=None)


ITERS_PER_EPOCH = 10


def _lr_at_epoch_starts(cfg, optim_wrapper, groups):
    """The lr of each group at the start of every epoch, the config's schedulers built and
    stepped as mmengine's Runner and ParamSchedulerHook do (iteration-based ones after each
    iteration, epoch-based ones after each epoch), ``ITERS_PER_EPOCH`` iterations an epoch."""
    from mmengine.registry import PARAM_SCHEDULERS
    schedulers = []
    for scheduler in copy.deepcopy(cfg.param_scheduler):
        scheduler.setdefault('end', cfg.train_cfg.max_epochs)
        schedulers.append(PARAM_SCHEDULERS.build(  # raises if a warm-up outlasts the run
            scheduler, default_args=dict(optimizer=optim_wrapper,
                                         epoch_length=ITERS_PER_EPOCH)))
    curve = []
    for _ in range(cfg.train_cfg.max_epochs):
        curve.append(tuple(g['lr'] for g in groups))
        for _ in range(ITERS_PER_EPOCH):
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()
        for scheduler in schedulers:
            if scheduler.by_epoch:
                scheduler.step()
    return curve


@pytest.mark.filterwarnings('ignore:Detected call of `scheduler.step()` before')
@pytest.mark.parametrize('name', MLLA_FT)
def test_finetune_lr_warms_up_then_decays_and_softmax_qkv_trains_10x(name):
    from mmengine.optim import build_optim_wrapper
    cfg = load(name)
    model = build_on_meta(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr = cfg.optim_wrapper.optimizer.lr
    names = {id(p): n for n, p in model.named_parameters()}
    fast = sorted(names[id(p)] for g in wrapper.param_groups if g['lr'] == 10 * lr
                  for p in g['params'])
    softmax_blocks = [f'backbone.stages.{i}.blocks.{j}.' for i, stage in
                      enumerate(model.backbone.layer_pattern) for j, kind in enumerate(stage)
                      if kind == 'S']
    assert len(softmax_blocks) == (3 if arch_of(name) == 'tiny' else 4)
    assert fast == sorted(f'{b}mixer.core.qkv.{p}' for b in softmax_blocks
                          for p in ('weight', 'bias'))
    qkv_bias = next(g for g in wrapper.param_groups if names[id(g['params'][0])] == fast[0])
    assert qkv_bias['weight_decay'] == 0.0

    base_group = next(g for g in wrapper.param_groups if g['lr'] == lr)
    fast_group = next(g for g in wrapper.param_groups if g['lr'] == 10 * lr)
    curve = _lr_at_epoch_starts(cfg, wrapper, (base_group, fast_group))
    warmup = cfg.param_scheduler[0].end
    assert curve[0][0] == pytest.approx(lr * 1e-3)
    assert all(curve[e][0] < curve[e + 1][0] for e in range(warmup))
    assert curve[warmup] == pytest.approx((lr, 10 * lr))
    assert all(curve[e][0] > curve[e + 1][0] for e in range(warmup, len(curve) - 1))
    assert curve[-1][0] < lr / 50


def _fake_checkpoint(path, shapes):
    """A checkpoint with the given ``{key: shape}`` (zero-stride tensors: a few bytes each)."""
    torch.save(dict(meta=dict(), state_dict={k: torch.zeros(()).expand(s)
                                             for k, s in shapes.items()}), path)
    return str(path)


@pytest.mark.parametrize('name', MLLA_FT[:1])  # S and B: the same check, other key sets
def test_train_accepts_the_hybrid_conversion_and_refuses_an_all_linear_one(name, tmp_path):
    from mmsola.checks import CheckpointError, check_checkpoint, model_shapes
    cfg = load(name)
    hybrid = _fake_checkpoint(tmp_path / 'hybrid.pth', model_shapes(cfg))
    check_checkpoint(cfg, hybrid, what='load_from')

    all_linear = copy.deepcopy(cfg)
    pattern = build_on_meta(cfg).backbone.layer_pattern
    all_linear.model.backbone.layer_pattern = [s.replace('S', 'L') for s in pattern]
    wrong = _fake_checkpoint(tmp_path / 'all_l.pth', model_shapes(all_linear))
    with pytest.raises(CheckpointError, match=r'(?s)missing: .*core\.qkv.*unexpected: .*core\.qk'):
        check_checkpoint(cfg, wrong, what='load_from')
