"""Downstream switches: frozen_stages, norm_eval, with_cp, drop path, layer depth, HSB."""
import pytest
import torch
import torch.utils.checkpoint
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tests.support.small_models import randomize_, small_backbone


def _train_step(model, x):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    model.train()
    loss = sum(o.square().mean() for o in model(x))
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_frozen_stages_do_not_change_in_a_training_step():
    model = randomize_(small_backbone(frozen_stages=1, out_indices=(0, 1, 2, 3)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _train_step(model, torch.rand(2, 3, 64, 64))
    frozen = ('stem.', 'stages.0.', 'stages.1.', 'norm0.', 'norm1.')
    changed = {k for k, v in model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])}
    assert not [k for k in changed if k.startswith(frozen)]  # params and BN statistics
    assert any(k.startswith('stages.2.') for k in changed)
    assert any(k.startswith('norm3.') for k in changed)
    # frozen parts stay in eval mode through train(); the rest trains
    for name, m in model.named_modules():
        if name.startswith(frozen):
            assert not m.training, name
    assert model.stages[2].training and model.stages[2].downsample.project[1].training
    assert all(not p.requires_grad for p in model.stem.parameters())


def test_frozen_stage_2_freezes_hsb_feeding_it():
    model = small_backbone(frozen_stages=2, hsb=True)
    assert all(not p.requires_grad for p in model.hsb.parameters())
    assert all(p.requires_grad for p in model.stages[3].parameters())


def test_norm_eval_keeps_batchnorm_statistics():
    model = small_backbone(norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert all(m.training for m in model.modules() if isinstance(m, nn.LayerNorm))
    stats = [m.running_mean.clone() for m in bns]
    model(torch.rand(2, 3, 32, 32))
    assert all(torch.equal(m.running_mean, s) for m, s in zip(bns, stats))
    # without norm_eval the statistics move
    plain = small_backbone().train()
    before = plain.stem.conv1[1].running_mean.clone()
    plain(torch.rand(2, 3, 32, 32))
    assert not torch.equal(plain.stem.conv1[1].running_mean, before)


def test_with_cp_same_outputs_and_gradients(monkeypatch):
    kwargs = dict(out_indices=(0, 1, 2, 3), drop_path_rate=0.3, hsb=True)
    ref = randomize_(small_backbone(**kwargs))
    cp_model = small_backbone(with_cp=True, **kwargs)
    cp_model.load_state_dict(ref.state_dict())
    calls = []
    real = torch.utils.checkpoint.checkpoint
    monkeypatch.setattr(torch.utils.checkpoint, 'checkpoint',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x = torch.rand(2, 3, 33, 47)
    grads, outs = [], []
    for model in (ref, cp_model):
        model.train()
        torch.manual_seed(0)  # same drop-path masks
        out = model(x)
        sum((o * torch.linspace(0, 1, o.numel()).view_as(o)).sum() for o in out).backward()
        outs.append(out)
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert len(calls) == 6  # one checkpoint per block (depths 1, 2, 2, 1)
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_drop_path_increases_linearly_over_blocks():
    model = small_backbone(drop_path_rate=0.4)
    rates = [b.drop_path.p for s in model.stages for b in s.blocks]
    assert rates == pytest.approx([0., 0.08, 0.16, 0.24, 0.32, 0.4])


def test_layer_depth_numbering():
    model = small_backbone(out_indices=(0, 3), hsb=True)  # depths 1, 2, 2, 1
    num_layers = 1 + 2 + 2 + 1 + 2
    cases = {
        'backbone.stem.conv1.0.weight': 0,
        'backbone.stages.0.blocks.0.mixer.in_proj.weight': 1,
        'backbone.stages.1.downsample.expand.weight': 2,
        'backbone.stages.1.blocks.0.norm1.weight': 2,
        'backbone.stages.1.blocks.1.mlp.fc2.bias': 3,
        'backbone.hsb.scale': 4,
        'backbone.stages.2.blocks.1.mixer.core.softmax.qkv.weight': 5,
        'backbone.stages.3.blocks.0.cpe1.weight': 6,
        'backbone.norm3.weight': num_layers - 1,
        'head.fc.weight': num_layers - 1,
    }
    for name, depth in cases.items():
        assert model.get_layer_depth(name, 'backbone.') == (depth, num_layers), name
    # every parameter has a depth, non-decreasing from the input to the output
    depths = [model.get_layer_depth(n)[0] for n, _ in model.named_parameters()
              if not n.startswith(('norm', 'hsb'))]
    assert depths == sorted(depths) and depths[0] == 0 and depths[-1] == 6


def test_layer_decay_through_mmpretrain_constructor():
    pytest.importorskip('mmpretrain')
    from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor

    from mmsola.models import build_sola_vision_cls
    model = build_sola_vision_cls(num_classes=5, embed_dims=16,
                                  layer_pattern=['L', 'LS', 'LH', 'S'])
    ctor = LearningRateDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=0.5))
    optim = ctor(model)
    lr_of = {}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            lr_of[id(p)] = group['lr']
    num_layers = 8
    assert lr_of[id(model.head.fc.weight)] == pytest.approx(1.0)
    assert lr_of[id(model.backbone.stem.conv1[0].weight)] == pytest.approx(
        0.5**(num_layers - 1))
    assert lr_of[id(model.backbone.stages[1].blocks[1].mlp.fc1.weight)] == pytest.approx(
        0.5**(num_layers - 3 - 1))


def test_hsb_starts_as_identity_yet_learns():
    ref = randomize_(small_backbone(out_indices=(2, 3))).eval()
    model = small_backbone(out_indices=(2, 3), hsb=True).eval()
    missing, unexpected = model.load_state_dict(ref.state_dict(), strict=False)
    assert all(k.startswith('hsb.') for k in missing) and not unexpected
    assert torch.equal(model.hsb.scale, torch.zeros_like(model.hsb.scale))
    x = torch.rand(2, 3, 65, 47)
    for a, b in zip(model(x), ref(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    sum(o.sum() for o in model(x)).backward()
    assert model.hsb.scale.grad is not None and model.hsb.scale.grad.abs().sum() > 0
    with torch.no_grad():  # once the scale moves, stage 3 and 4 see the early features
        model.hsb.scale.fill_(0.5)
    assert not torch.allclose(model(x)[0], ref(x)[0])
