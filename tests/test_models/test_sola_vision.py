"""SoLAVision: shapes at any size, input checks, arch presets, registry, numerics."""
import pytest
import torch
from mmengine.registry import MODELS

from mmsola.models import SoLAVision
from tests.support.small_models import SMALL, expected_shapes, randomize_, small_backbone


@pytest.mark.parametrize('hw', [(223, 337), (65, 47), (32, 32), (7, 130), (1, 1)])
def test_output_shapes_any_size(hw):
    model = small_backbone(out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, *hw))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == expected_shapes(1, hw)
    assert all(o.isfinite().all() for o in outs)


def test_out_indices_select_and_normalise():
    model = small_backbone(out_indices=(-1, 1)).eval()
    assert model.out_indices == (1, 3)
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == expected_shapes(1, (64, 64), (1, 3))
    with pytest.raises(ValueError, match='out_indices'):
        small_backbone(out_indices=(4, ))


@pytest.mark.parametrize('shape, message', [
    ((3, 32, 32), r'4-D input \(B, 3, H, W\)'),
    ((1, 1, 3, 32, 32), r'4-D input \(B, 3, H, W\)'),
    ((1, 4, 32, 32), r'in_channels=3, got an input with 4 channels'),
])
def test_bad_input_is_a_clear_error(shape, message):
    model = small_backbone()
    with pytest.raises(ValueError, match=message):
        model(torch.rand(*shape))


def test_tiny_preset_matches_the_spec():
    model = SoLAVision('tiny')
    assert model.embed_dims == 64
    assert model.depths == [2, 4, 8, 4]
    assert model.num_heads == [2, 4, 8, 16]
    assert model.layer_pattern == ['LL', 'LLLL', 'LLLSLLLS', 'LLLS']
    kinds = [b.mixer.kind for s in model.stages for b in s.blocks]
    assert ''.join(kinds) == 'LL' 'LLLL' 'LLLSLLLS' 'LLLS'
    # spec: about 25-30 M parameters with a 1000-class head (8C * 1000 + 1000)
    params = sum(p.numel() for p in model.parameters()) + 512 * 1000 + 1000
    assert 24.5e6 < params < 30e6
    # drop path: 0 -> 0.2 linearly over the 18 blocks
    rates = [b.drop_path.p for s in model.stages for b in s.blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.2, 18).tolist())


@pytest.mark.parametrize('arch,depths,heads,C,n_softmax,dpr', [
    ('small', [3, 6, 21, 6], [2, 4, 8, 16], 64, 4, 0.3),
    ('base', [3, 6, 21, 6], [3, 6, 12, 24], 96, 4, 0.5),
])
def test_small_and_base_presets(arch, depths, heads, C, n_softmax, dpr):
    s = SoLAVision.resolve_arch(arch)
    assert (s['depths'], s['num_heads'], s['embed_dims']) == (depths, heads, C)
    assert s['layer_pattern'][2] == 'LLLLLLS' * 3 and s['layer_pattern'][3] == 'LLLLLS'
    assert sum(p.count('S') for p in s['layer_pattern']) == n_softmax
    assert s['drop_path_rate'] == dpr
    assert SoLAVision.resolve_arch(arch[0]) == s


def test_arch_fields_are_overridable():
    model = SoLAVision('tiny', embed_dims=32, num_heads=[1, 2, 4, 8],
                       layer_pattern='LS/L/SLS/H', drop_path_rate=0.4)
    assert model.num_features == [32, 64, 128, 256]
    assert model.layer_pattern == ['LS', 'L', 'SLS', 'H']
    assert model.depths == [2, 1, 3, 1]
    assert [s.blocks[0].mixer.core.num_heads if s.blocks[0].mixer.kind != 'H' else None
            for s in model.stages] == [1, 2, 4, None]
    assert model.stages[3].blocks[0].drop_path.p == pytest.approx(0.4)
    # a preset's depths may be restated, but not contradicted without a pattern
    SoLAVision('tiny', embed_dims=16, depths=[2, 4, 8, 4])
    with pytest.raises(ValueError, match='disagrees with the layer_pattern of arch'):
        SoLAVision('tiny', depths=[2, 2, 6, 2])


def test_arch_as_dict_and_errors():
    arch = dict(embed_dims=16, num_heads=[2, 4, 8, 16], layer_pattern=['L', 'L', 'S', 'L'])
    model = SoLAVision(arch)
    assert model.depths == [1, 1, 1, 1] and model.num_features[-1] == 128
    with pytest.raises(ValueError, match='needs the keys'):
        SoLAVision(dict(embed_dims=16, depths=[1, 1, 1, 1]))
    with pytest.raises(ValueError, match="unknown arch 'huge'"):
        SoLAVision('huge')
    with pytest.raises(ValueError, match='stage 1: width 32 with 3 heads'):
        SoLAVision('tiny', embed_dims=16, num_heads=[2, 3, 8, 16])
    with pytest.raises(ValueError, match="stage 0.*'H' block.*odd"):
        SoLAVision(dict(arch, num_heads=[1, 2, 4, 8], layer_pattern=['H', 'L', 'L', 'L']))


def test_builds_from_the_root_registry():
    model = MODELS.build(dict(type='SoLAVision', **SMALL))
    assert isinstance(model, SoLAVision)
    assert model.layer_pattern == SMALL['layer_pattern']


def test_any_resolution_without_state_changes():
    model = randomize_(small_backbone(out_indices=(0, 1, 2, 3))).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_small = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        first = model(x_small)
        other = model(torch.rand(1, 3, 161, 75))
        again = model(x_small)
    assert [tuple(o.shape) for o in other] == expected_shapes(1, (161, 75))
    # nothing size-dependent is cached or stored: same state, same result as before
    assert before.keys() == model.state_dict().keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_eval_is_deterministic_and_train_drops_paths():
    model = small_backbone(drop_path_rate=0.5, out_indices=(3, ))
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x)[0])
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x)[0], model(x)[0])


def test_cpu_autocast_bf16_runs_finite_and_close():
    model = randomize_(small_backbone(out_indices=(0, 3))).eval()
    x = torch.rand(1, 3, 33, 41)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            outs = model(x)
    for o, r in zip(outs, ref):
        assert o.dtype == torch.bfloat16 and o.isfinite().all()
        assert (o.float() - r).norm() / r.norm() < 5e-2


def test_backward_reaches_every_parameter():
    model = randomize_(small_backbone(out_indices=(0, 1, 2, 3), hsb=True))
    outs = model(torch.rand(2, 3, 33, 45))
    sum(o.square().mean() for o in outs).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or
               not p.grad.abs().sum() > 0]
    assert no_grad == []
