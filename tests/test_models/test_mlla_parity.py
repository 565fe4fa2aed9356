"""Exact parity with MLLA on MLLA's own numbers: converted with mlla2sola, the all-'L'
SoLA-Vision computes what MLLA's published code computes, to fp32 rounding.

The fixture ``tests/data/mlla_fixture.pth`` holds numbers only: a reduced MLLA (width 8,
depths 1-1-2-1, heads 1-1-2-2, seeded random weights perturbed away from MLLA's init) as MLLA's
own code built it, and MLLA's outputs on fixed inputs: the classifier's logits (64 x 64) and
the downstream backbone's four maps at 64 x 96 and 96 x 64, and at 57 x 83, which MLLA pads
(``SoLAVision(mlla_padding=True)`` pads likewise). It was made by running MLLA's
``models/mlla.py`` and ``downstream/detection/mmdet/models/backbones/mlla.py`` (never copied
here) with::

    git clone https://github.com/LeapLabTHU/MLLA /tmp/MLLA   # commit 66b6d29
    python tests/data/make_mlla_fixture.py /tmp/MLLA tests/data/mlla_fixture.pth

Both paths of the linear attention are checked: the torch op, and the Triton kernels (in the
interpreter on CPU, TRITON_INTERPRET=1 from tests/conftest.py) for every block whose head dim
they support (stages 2-4 here; stage 1's head dim 8 is below the kernels' 16 and stays on
torch).
"""
import pytest
import torch

from mmsola.checkpoint import select_prefix
from mmsola.convert import convert_mlla_checkpoint, mlla_keys
from mmsola.models import SoLAVision
from mmsola.models.backbones.attention import LinearAttentionCore
from mmsola.ops.linear_attention import interface
from tests.support.paths import REPO_ROOT

FIXTURE = REPO_ROOT / 'tests' / 'data' / 'mlla_fixture.pth'
TOLERANCE = 1e-5  # fp32: max |mmsola - MLLA| <= 1e-5 * max |MLLA|


@pytest.fixture(scope='module')
def mlla(one_torch_thread):
    return torch.load(FIXTURE, map_location='cpu', weights_only=True)


def _fp32(state):
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def classifier_file(mlla) -> dict:
    """MLLA's classification checkpoint layout: ``model``."""
    return {'model': _fp32(mlla['classifier_state'])}


def dense_file(mlla) -> dict:
    """MLLA's mmdet / mmseg checkpoint layout: ``state_dict`` with ``backbone.*``; the
    downstream backbone shares the classifier's tensors and has its own output norms."""
    shared = _fp32(mlla['classifier_state'])
    own = _fp32(mlla['dense_own_state'])
    state = {'backbone.' + k: own[k] if k in own else shared[k] for k in mlla['dense_keys']}
    return {'state_dict': state}


def arch_of(mlla, pattern=None) -> dict:
    arch = dict(mlla['arch'])
    return dict(embed_dims=arch['embed_dims'], num_heads=arch['num_heads'],
                layer_pattern=pattern or ['L' * n for n in arch['depths']])


def backbone_part(state: dict) -> dict:
    """The ``backbone.`` keys without the prefix, with their metadata (module versions), as
    the toolkits' loaders pass them on."""
    return select_prefix(state, 'backbone.')


def _assert_matches(out: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert out.shape == ref.shape, what
    err = (out - ref).abs().max().item() / ref.abs().max().item()
    assert err <= TOLERANCE, f'{what}: relative max error {err:.2e} > {TOLERANCE}'


def _use_backend(model: torch.nn.Module, backend: str) -> int:
    """Run every linear core whose head dim the backend supports on ``backend``."""
    switched = 0
    for module in model.modules():
        if isinstance(module, LinearAttentionCore):
            head_dim = module.qk.in_features // module.num_heads
            if backend == 'torch' or head_dim in interface.TRITON_HEAD_DIMS:
                module.attn_backend = backend
                switched += 1
    return switched


@pytest.fixture
def backends_used(monkeypatch):
    """The backend of every linear-attention call made during the test."""
    used = []
    call = interface.linear_attention_call

    def recording(q, k, v, h, w, eps, name, *args):
        used.append(name)
        return call(q, k, v, h, w, eps, name, *args)

    monkeypatch.setattr(interface, 'linear_attention_call', recording)
    return used


def dense_backbone(mlla, backend='torch', mlla_padding=False) -> SoLAVision:
    converted, _ = convert_mlla_checkpoint(dense_file(mlla), arch=arch_of(mlla))
    model = SoLAVision(arch=arch_of(mlla), out_indices=(0, 1, 2, 3), drop_path_rate=0.,
                       attn_backend='torch', mlla_padding=mlla_padding).eval()
    state = backbone_part(converted['state_dict'])
    model.load_state_dict(state, strict=True)
    _use_backend(model, backend)
    return model


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_dense_backbone_equals_mlla_at_two_sizes(mlla, backend, backends_used):
    if backend == 'triton':
        pytest.importorskip('triton')
        if interface._triton_import_error() or not interface._triton_interpreting():
            pytest.skip('the Triton kernels do not run here')
    model = dense_backbone(mlla, backend)
    with torch.no_grad():
        for image, maps in zip(mlla['dense_inputs'], mlla['dense_outputs']):
            outs = model(image.float())
            assert len(outs) == len(maps) == 4
            for i, (out, ref) in enumerate(zip(outs, maps)):
                _assert_matches(out, ref, f'stage {i} at {tuple(image.shape[2:])}')
    blocks = sum(mlla['arch']['depths'])
    assert backends_used.count(backend) >= (blocks if backend == 'torch' else blocks - 1)


def test_mlla_padding_equals_mlla_at_a_size_mlla_pads(mlla):
    """57 x 83 (not a multiple of 4, odd maps): with ``mlla_padding`` the maps are MLLA's;
    the default padding (inside the stride-2 convs) gives the same sizes, other values. At
    multiples of 32 the option changes nothing."""
    image, maps = mlla['padded_input'].float(), mlla['padded_outputs']
    padded, default = dense_backbone(mlla, mlla_padding=True), dense_backbone(mlla)
    with torch.no_grad():
        for i, (out, ref) in enumerate(zip(padded(image), maps)):
            _assert_matches(out, ref, f'stage {i} at {tuple(image.shape[2:])}')
        for out, ref in zip(default(image), maps):
            assert out.shape == ref.shape
            assert (out - ref).abs().max() / ref.abs().max() > 100 * TOLERANCE
        image = mlla['dense_inputs'][0].float()
        for a, b in zip(padded(image), default(image)):
            assert torch.equal(a, b)


@pytest.mark.parametrize('backend', ['torch', 'triton'])
def test_classifier_equals_mlla_logits(mlla, backend, backends_used):
    pytest.importorskip('mmpretrain')
    if backend == 'triton' and (interface._triton_import_error()
                                or not interface._triton_interpreting()):
        pytest.skip('the Triton kernels do not run here')
    from mmsola.models.classifiers.sola_vision_cls import build_sola_vision_cls
    converted, report = convert_mlla_checkpoint(classifier_file(mlla), arch=arch_of(mlla))
    assert report.kind == 'classifier' and not report.warm_started
    arch = arch_of(mlla)
    model = build_sola_vision_cls(arch=arch, num_classes=mlla['classifier_logits'].shape[1],
                                  backbone=dict(drop_path_rate=0., attn_backend='torch'))
    model.load_state_dict(converted['state_dict'], strict=True)
    model.eval()
    _use_backend(model, backend)
    with torch.no_grad():
        logits = model(mlla['classifier_input'].float(), mode='tensor')
    _assert_matches(logits, mlla['classifier_logits'], 'logits')
    assert backend in backends_used


@pytest.mark.parametrize('broken', ['qk rows unpermuted', 'downsample bias not folded'])
def test_parity_fails_without_each_conversion_step(mlla, monkeypatch, broken):
    """The parity test can fail: skip one step of the conversion and MLLA's maps are missed
    by far more than the tolerance (already in stage 1 or 2, which have one head each)."""
    if broken == 'qk rows unpermuted':
        monkeypatch.setattr(mlla_keys, 'qk_row_order',
                            lambda width, heads: torch.arange(width))
        first_wrong = 0
    else:
        monkeypatch.setattr('mmsola.convert.mlla.fold_bias_into_bn',
                            lambda bias, running_mean: running_mean)
        first_wrong = 1
    model = dense_backbone(mlla)
    image, maps = mlla['dense_inputs'][0], mlla['dense_outputs'][0]
    with torch.no_grad():
        out = model(image.float())[first_wrong]
    ref = maps[first_wrong]
    assert (out - ref).abs().max() / ref.abs().max() > 100 * TOLERANCE


def _converted_file(mlla, tmp_path):
    """MLLA's dense checkpoint converted and saved as ``mlla2sola.py`` saves it."""
    converted, _ = convert_mlla_checkpoint(dense_file(mlla), arch=arch_of(mlla))
    assert converted['state_dict']._metadata['backbone']['version'] == SoLAVision._version
    path = tmp_path / 'sola_det_backbone.pth'
    torch.save(converted, path)
    return path


def _bare_backbone(mlla, **kwargs) -> SoLAVision:
    return SoLAVision(arch=arch_of(mlla), out_indices=(0, 1, 2, 3), drop_path_rate=0.,
                      attn_backend='torch', **kwargs)


def _assert_mllas_maps(model: SoLAVision, mlla, how: str) -> None:
    with torch.no_grad():
        for image, maps in zip(mlla['dense_inputs'], mlla['dense_outputs']):
            for i, (out, ref) in enumerate(zip(model.eval()(image.float()), maps)):
                _assert_matches(out, ref, f'{how}: stage {i} at {tuple(image.shape[2:])}')


def test_converted_file_loads_with_mmengines_revise_keys(mlla, tmp_path):
    """``load_checkpoint(..., revise_keys=...)`` rebuilds the state dict without its version
    metadata; a state dict without it is today's layout and loads."""
    from mmengine.runner import load_checkpoint
    model = _bare_backbone(mlla)
    load_checkpoint(model, str(_converted_file(mlla, tmp_path)), map_location='cpu',
                    strict=True, revise_keys=[(r'^backbone\.', '')])
    _assert_mllas_maps(model, mlla, 'revise_keys')


def test_converted_file_loads_through_mmengines_pretrained_init(mlla, tmp_path):
    """mmengine's own ``Pretrained`` initializer (prefix='backbone.'), not SoLAVision's."""
    from mmengine.model import initialize
    model = _bare_backbone(mlla)
    cfg = dict(type='Pretrained', checkpoint=str(_converted_file(mlla, tmp_path)),
               prefix='backbone.', map_location='cpu')
    initialize(model, cfg)
    _assert_mllas_maps(model, mlla, 'mmengine Pretrained')
    # and through SoLAVision's own init_cfg handling
    model = _bare_backbone(mlla, init_cfg=cfg)
    model.init_weights()
    _assert_mllas_maps(model, mlla, 'init_cfg')


def test_converted_file_loads_as_a_hand_rebuilt_dict(mlla, tmp_path):
    state = torch.load(_converted_file(mlla, tmp_path), weights_only=True)['state_dict']
    plain = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    model = _bare_backbone(mlla)
    model.load_state_dict(plain, strict=True)
    _assert_mllas_maps(model, mlla, 'hand-rebuilt dict')
