"""tools/model_converters/mlla2sola.py and mmsola.convert: MLLA checkpoints -> mmsola's.

Full-size MLLA-T / S / B files are described key by key on the meta device
(tests/support/mlla_checkpoints.py, checked here against MLLA's own state dicts in the fixture):
no large files. The numeric parity is tests/test_models/test_mlla_parity.py.
"""
import os
import pickle
import sys
import types
from collections import OrderedDict

import pytest
import torch

from mmsola.convert import ConversionError, convert_mlla_checkpoint, load_foreign_checkpoint
from mmsola.convert.mlla import DOWNSTREAM_RENAMES
from mmsola.convert.mlla_keys import permute_qk, qk_row_order
from mmsola.models import SoLAVision
from tests.support.mlla_checkpoints import (
    meta_state,
    mlla_shapes,
    mmdet2_mask_rcnn_shapes,
    mmseg0_upernet_shapes,
    shared_storage_state,
)
from tests.support.tool_runs import load_tool, run_cli
from tests.test_models.test_mlla_parity import (
    FIXTURE,
    arch_of,
    backbone_part,
    classifier_file,
    dense_file,
)

TOOL = 'tools/model_converters/mlla2sola.py'
ARCHS = ('tiny', 'small', 'base')
mlla2sola = load_tool('model_converters/mlla2sola')


@pytest.fixture(scope='module')
def mlla(one_torch_thread):
    return torch.load(FIXTURE, map_location='cpu', weights_only=True)


def mlla_meta_classifier(arch: str, **kwargs) -> dict:
    preset = SoLAVision.arch_zoo[arch]
    return meta_state(mlla_shapes(preset['embed_dims'], preset['depths'], **kwargs))


def all_linear(arch: str):
    return ['L' * n for n in SoLAVision.arch_zoo[arch]['depths']]


# ------------------------------------------------------------------ MLLA's keys, described
def test_the_key_description_is_mllas_own(mlla):
    """mlla_shapes at the fixture's size is exactly the state dict MLLA's code made."""
    arch = mlla['arch']
    classifier = mlla_shapes(arch['embed_dims'], arch['depths'], num_classes=10, img_size=64)
    assert classifier == {k: tuple(v.shape) for k, v in mlla['classifier_state'].items()}
    dense = mlla_shapes(arch['embed_dims'], arch['depths'], img_size=64, downstream=True)
    assert set(dense) == set(mlla['dense_keys'])


def test_qk_rows_pair_like_mlla():
    """Head h of C = 8, 2 heads (d = 4): mmsola's rotate-half pairs (h*d + p, h*d + p + 2)
    take MLLA's adjacent pairs (2P, 2P + 1), P = h*d/2 + p."""
    assert qk_row_order(8, 2).tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    qk = torch.arange(16.)
    assert permute_qk(qk, 2).tolist() == [0, 2, 1, 3, 4, 6, 5, 7,
                                          8, 10, 9, 11, 12, 14, 13, 15]


# ------------------------------------------------------------- T / S / B key round trips
@pytest.mark.parametrize('arch', ARCHS)
def test_classifier_key_sets_load_into_sola_vision_cls(arch):
    """MLLA-T/S/B -> SoLAVisionCls(arch, all 'L') with every key matched (strict); the arch is
    read from the weights."""
    pytest.importorskip('mmpretrain')
    from mmsola.models.classifiers.sola_vision_cls import build_sola_vision_cls
    converted, report = convert_mlla_checkpoint({'model': mlla_meta_classifier(arch)})
    assert report.arch == arch and report.layer_pattern == all_linear(arch)
    depth = sum(SoLAVision.arch_zoo[arch]['depths'])
    assert len(report.dropped) == len(report.permuted) // 2 == depth  # RoPE tables, qk w+b
    assert len(report.folded) == 3
    with torch.device('meta'):
        model = build_sola_vision_cls(arch=arch, layer_pattern=all_linear(arch))
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)
    meta = converted['meta']
    assert meta['exact'] and meta['arch'] == arch and 'warm_start' not in meta
    assert converted['state_dict']._metadata['backbone']['version'] == SoLAVision._version


@pytest.mark.parametrize('pattern', [None, 'default'])
@pytest.mark.parametrize('arch', ARCHS)
def test_backbone_only_key_sets_load_into_the_dense_backbone(arch, pattern):
    """--backbone-only: the dense configs' backbone (out_indices 0-3) with every key matched;
    all 'L', or with --pattern default the configs' own hybrid backbone."""
    converted, report = convert_mlla_checkpoint({'model': mlla_meta_classifier(arch)},
                                                backbone_only=True, layer_pattern=pattern)
    state = converted['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    assert report.added == [f'backbone.norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert bool(report.warm_started) == (pattern == 'default')
    with torch.device('meta'):
        dense = SoLAVision(arch, layer_pattern=all_linear(arch) if pattern is None else None,
                           out_indices=(0, 1, 2, 3))
    dense.load_state_dict(backbone_part(state), strict=True,
                          assign=True)


@pytest.mark.parametrize('arch', ARCHS)
def test_default_pattern_warm_start_key_sets(arch):
    """--pattern default: the preset's hybrid SoLAVisionCls loads it, every 'S' block
    warm-started and recorded."""
    pytest.importorskip('mmpretrain')
    from mmsola.models.classifiers.sola_vision_cls import build_sola_vision_cls
    converted, report = convert_mlla_checkpoint({'model': mlla_meta_classifier(arch)},
                                                layer_pattern='default')
    pattern = SoLAVision.arch_zoo[arch]['layer_pattern']
    assert report.layer_pattern == pattern
    assert len(report.warm_started) == ''.join(pattern).count('S') > 0
    with torch.device('meta'):
        model = build_sola_vision_cls(arch=arch)
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)
    meta = converted['meta']
    assert not meta['exact'] and meta['warm_start']['blocks'] == report.warm_started
    assert 'fine-tune' in meta['warm_start']['note']


def test_sola_in1k_config_loads_the_conversion():
    """configs/sola_t_in1k.py with the all-'L' pattern: every key of the model matched."""
    pytest.importorskip('mmpretrain')
    from tests.support.configs import build_on_meta, load, metafiles_read_once
    converted, _ = convert_mlla_checkpoint({'model': mlla_meta_classifier('tiny')})
    with metafiles_read_once():
        cfg = load('sola_t_in1k.py')
    cfg.model.layer_pattern = all_linear('tiny')
    model = build_on_meta(cfg)
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)


@pytest.mark.parametrize('toolkit, config, heads', [
    ('mmdet', 'mask_rcnn_sola_t_fpn_1x_coco.py', mmdet2_mask_rcnn_shapes),
    ('mmseg', 'upernet_sola_t_ade20k.py', mmseg0_upernet_shapes)])
def test_downstream_files_load_into_the_dense_configs(toolkit, config, heads):
    """An MLLA-T Mask R-CNN (mmdet 2.25) / UperNet (mmseg 0.28) file: backbone mapped, the
    neck and heads kept under their names, and the mmdet 3 / mmseg 1 model of mmsola's config
    (all 'L') loads the result with every key matched."""
    pytest.importorskip(toolkit)
    from tests.support.configs import build_on_meta, load, metafiles_read_once
    channels = [64, 128, 256, 512]
    shapes = OrderedDict(('backbone.' + k, s) for k, s in
                         mlla_shapes(64, [2, 4, 8, 4], downstream=True).items())
    shapes.update(heads(channels))
    state = meta_state(shapes)
    converted, report = convert_mlla_checkpoint({'state_dict': state, 'meta': {'epoch': 12}})
    assert report.kind == toolkit and report.arch == 'tiny'
    assert report.kept == [k for k in state if not k.startswith('backbone.')]
    assert report.renamed == {} and DOWNSTREAM_RENAMES[toolkit] == {}
    with metafiles_read_once():
        cfg = load(config)
    cfg.model.backbone.layer_pattern = all_linear('tiny')
    cfg.model.backbone.init_cfg = None
    model = build_on_meta(cfg)
    model.load_state_dict(converted['state_dict'], strict=True, assign=True)
    assert converted['meta']['source_meta'] == {'epoch': 12}


# ----------------------------------------------------------------- which weights, values
def training_file(mlla) -> dict:
    """An MLLA training checkpoint: model, EMA, optimizer, scheduler, its yacs config."""
    model = classifier_file(mlla)['model']
    ema = {k: v * 0.5 if v.is_floating_point() else v for k, v in model.items()}
    return dict(model=model, state_dict_ema=ema, optimizer={'state': {}, 'param_groups': []},
                lr_scheduler={'t_initial': 300}, max_accuracy=torch.tensor(1.0), epoch=299)


def test_ema_picks_state_dict_ema(mlla):
    ckpt = training_file(mlla)
    arch = arch_of(mlla)
    ema, report = convert_mlla_checkpoint(ckpt, use_ema=True, arch=arch)
    raw, raw_report = convert_mlla_checkpoint(ckpt, arch=arch)
    assert (report.weights, raw_report.weights) == ('state_dict_ema', 'model')
    assert torch.equal(ema['state_dict']['head.fc.weight'], ckpt['state_dict_ema']['head.weight'])
    assert torch.equal(raw['state_dict']['head.fc.weight'], ckpt['model']['head.weight'])
    with pytest.raises(ConversionError, match='state_dict_ema.*drop --ema'):
        convert_mlla_checkpoint(classifier_file(mlla), use_ema=True, arch=arch)


def test_converted_values(mlla):
    """Copied tensors are MLLA's, qk is permuted per head, the bias is folded into the mean."""
    mlla_state = classifier_file(mlla)['model']
    converted, _ = convert_mlla_checkpoint(classifier_file(mlla), arch=arch_of(mlla))
    state = converted['state_dict']
    assert torch.equal(state['backbone.stages.2.blocks.1.mixer.gate_proj.weight'],
                       mlla_state['layers.2.blocks.1.act_proj.weight'])
    assert torch.equal(state['backbone.stages.3.downsample.expand.bias'],
                       mlla_state['layers.2.downsample.conv.0.conv.bias'])
    assert torch.equal(state['backbone.stages.2.blocks.0.mixer.core.qk.weight'],
                       permute_qk(mlla_state['layers.2.blocks.0.attn.qk.weight'], 2))
    assert torch.equal(state['backbone.stages.1.downsample.project.1.running_mean'],
                       mlla_state['layers.0.downsample.conv.2.norm.running_mean']
                       - mlla_state['layers.0.downsample.conv.2.conv.bias'])
    assert torch.equal(state['backbone.norm3.weight'], mlla_state['norm.weight'])
    assert not any('rope' in k for k in state)


def test_backbone_only_of_the_fixture_feeds_the_dense_backbone(mlla):
    converted, report = convert_mlla_checkpoint(classifier_file(mlla), backbone_only=True,
                                                arch=arch_of(mlla))
    state = converted['state_dict']
    assert 'head.fc.weight' not in state and {'head.weight', 'head.bias'} <= set(report.dropped)
    assert torch.equal(state['backbone.norm0.weight'], torch.ones(8))
    assert torch.equal(state['backbone.norm2.bias'], torch.zeros(32))
    dense = SoLAVision(arch=arch_of(mlla), out_indices=(0, 1, 2, 3))
    dense.load_state_dict(backbone_part(state), strict=True)


def test_pattern_warm_start_values(mlla):
    """'S' blocks: q, k rows from the converted qk, v the identity; the rest copied."""
    pattern = ['L', 'L', 'LS', 'S']
    converted, report = convert_mlla_checkpoint(classifier_file(mlla), arch=arch_of(mlla),
                                                layer_pattern='/'.join(pattern))
    assert report.warm_started == ['stages.2.blocks.1', 'stages.3.blocks.0']
    plain, _ = convert_mlla_checkpoint(classifier_file(mlla), arch=arch_of(mlla))
    state, exact = converted['state_dict'], plain['state_dict']
    for core, width in (('backbone.stages.2.blocks.1.mixer.core.', 32),
                        ('backbone.stages.3.blocks.0.mixer.core.', 64)):
        qkv, bias = state[core + 'qkv.weight'], state[core + 'qkv.bias']
        assert torch.equal(qkv[:2 * width], exact[core + 'qk.weight'])
        assert torch.equal(qkv[2 * width:], torch.eye(width))
        assert torch.equal(bias, torch.cat([exact[core + 'qk.bias'], torch.zeros(width)]))
        assert torch.equal(state[core + 'lepe.weight'], exact[core + 'lepe.weight'])
    for key in exact:
        if 'mixer.core.qk' not in key or key.startswith('backbone.stages.2.blocks.0'):
            assert torch.equal(state[key], exact[key]), key
    model = SoLAVision(arch=arch_of(mlla, pattern), out_indices=(3, ))
    model.load_state_dict(backbone_part(state), strict=True)
    with pytest.raises(ConversionError, match="'H'"):
        convert_mlla_checkpoint(classifier_file(mlla), arch=arch_of(mlla),
                                layer_pattern='L/L/LH/L')


# -------------------------------------------------------------- reading files safely
def _fake_yacs():
    """A stand-in for yacs.config.CfgNode (a dict subclass with attribute access and
    instance flags, pickled the same way), importable only while a file is written."""
    module = types.ModuleType('yacs.config')

    class CfgNode(dict):
        def __init__(self, init=None):
            super().__init__(init or {})
            self.__dict__['__immutable__'] = True
            self.__dict__['__deprecated_keys__'] = set()

        def __getattr__(self, name):
            if name in self:
                return self[name]
            raise AttributeError(name)

    CfgNode.__module__, CfgNode.__qualname__ = 'yacs.config', 'CfgNode'
    module.CfgNode = CfgNode
    return module


def _save_with_fake_yacs(obj_factory, path):
    yacs = _fake_yacs()
    sys.modules['yacs'], sys.modules['yacs.config'] = types.ModuleType('yacs'), yacs
    try:
        torch.save(obj_factory(yacs.CfgNode), path)
    finally:
        del sys.modules['yacs'], sys.modules['yacs.config']


def test_a_training_file_with_its_yacs_config_is_read_without_yacs(mlla, tmp_path):
    path = tmp_path / 'ckpt_epoch_299.pth'

    def checkpoint(CfgNode):
        config = CfgNode({'MODEL': CfgNode({'TYPE': 'mlla', 'MLLA': CfgNode(
            {'EMBED_DIM': 8, 'DEPTHS': [1, 1, 2, 1], 'NUM_HEADS': [1, 1, 2, 2]})})})
        return dict(training_file(mlla), config=config)

    _save_with_fake_yacs(checkpoint, path)
    with pytest.raises(pickle.UnpicklingError, match='yacs.config.CfgNode'):
        torch.load(path, weights_only=True)  # what the plain safe loader does with it
    ckpt = load_foreign_checkpoint(str(path))
    assert 'yacs' not in sys.modules
    # and mmengine's own checkpoints still load weights-only afterwards (the allow-list that
    # `import mmsola` sets is left as it was)
    from mmengine.logging import HistoryBuffer
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    assert type(ckpt['config']) is OrderedDict
    assert ckpt['config']['MODEL']['MLLA']['NUM_HEADS'] == [1, 1, 2, 2]
    assert torch.equal(ckpt['state_dict_ema']['head.weight'],
                       training_file(mlla)['state_dict_ema']['head.weight'])
    converted, report = convert_mlla_checkpoint(ckpt, use_ema=True, arch=arch_of(mlla))
    assert report.weights == 'state_dict_ema'
    # the file's own config is checked against the arch
    ckpt['config']['MODEL']['MLLA']['NUM_HEADS'] = [1, 2, 4, 8]
    with pytest.raises(ConversionError, match=r'config.MODEL.MLLA.*NUM_HEADS=\[1, 2, 4, 8\]'):
        convert_mlla_checkpoint(ckpt, arch=arch_of(mlla))


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch ran-code',))


def test_a_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({'model': {'x': torch.ones(1)}, 'payload': _RunsCode()}, 'evil.pth')
    with pytest.raises(ConversionError, match=r'weights_only=True.*GLOBAL posix.system'):
        load_foreign_checkpoint('evil.pth')
    assert not (tmp_path / 'ran-code').exists()


# -------------------------------------------------------------------------- bad files
def _mmsola_file():
    return {'state_dict': {'backbone.stem.conv1.0.weight': torch.zeros(1)}}


def _with_extra_key(mlla):
    ckpt = classifier_file(mlla)
    ckpt['model']['layers.0.blocks.0.attn.gate.weight'] = torch.zeros(1)
    return ckpt


def _without(mlla, key):
    ckpt = classifier_file(mlla)
    del ckpt['model'][key]
    return ckpt


@pytest.mark.parametrize('make, kwargs, message', [
    (lambda m: {'epoch': 3, 'optimizer': {}}, {}, r'no "model".*\[.epoch., .optimizer.\]'),
    (lambda m: {'model': {'conv.weight': torch.zeros(1)}}, {},
     r'not an MLLA checkpoint.*patch_embed.conv1.conv.weight.*conv.weight'),
    (lambda m: _mmsola_file(), {}, 'already an mmsola'),
    (_with_extra_key, dict(arch='_fixture'), r"not have: \['layers.0.blocks.0.attn.gate"),
    (lambda m: _without(m, 'layers.1.blocks.0.norm2.bias'), dict(arch='_fixture'),
     r"missing \['backbone.stages.1.blocks.0.norm2.bias'\]"),
    (lambda m: _without(m, 'head.bias'), dict(arch='_fixture'), 'no head.bias'),
    (lambda m: classifier_file(m), {}, r'embed_dims=8, depths=\[1, 1, 2, 1\].*matches no'),
    (lambda m: {'model': mlla_meta_classifier('tiny')}, dict(arch='small'),
     r"arch 'small' has embed_dims=64, depths=\[3, 6, 21, 6\].*depths=\[2, 4, 8, 4\]"),
    (lambda m: {'model': mlla_meta_classifier('tiny')}, dict(layer_pattern='LL/LLLL/LLLS/LLLS'),
     'stage 2'),
    (lambda m: {'model': mlla_meta_classifier('tiny')}, dict(use_ema=True), 'state_dict_ema'),
    (lambda m: dense_file(m), dict(arch='_fixture', backbone_only=True),
     'for MLLA classification files'),
])
def test_bad_files_are_refused_with_their_message(mlla, make, kwargs, message):
    if kwargs.get('arch') == '_fixture':
        kwargs = dict(kwargs, arch=arch_of(mlla))
    with pytest.raises(ConversionError, match=message):
        convert_mlla_checkpoint(make(mlla), **kwargs)


@pytest.mark.parametrize('content', [b'not a checkpoint', 'a list'])
def test_unreadable_files_are_refused(tmp_path, content):
    path = tmp_path / 'x.pth'
    if isinstance(content, bytes):
        path.write_bytes(content)
        match = 'not a checkpoint torch can load'
    else:
        torch.save([1, 2], path)
        match = 'holds a list, not a checkpoint dict'
    with pytest.raises(ConversionError, match=match):
        load_foreign_checkpoint(str(path))
    with pytest.raises(ConversionError, match='does not exist'):
        load_foreign_checkpoint(str(tmp_path / 'missing.pth'))


# ------------------------------------------------------------------------------ the CLI
def test_cli_converts_reports_and_refuses(tmp_path, capsys):
    """The tool as a process: an MLLA-T training file (with its yacs config) to the hybrid
    backbone, with its printout; then user errors (exit status 2, a message starting
    'mlla2sola.py: error: ', nothing written). The tensors share one storage: a full-size
    file of 4 MB."""
    src, dst = tmp_path / 'ckpt_epoch_299.pth', tmp_path / 'out' / 'sola_t_in1k_backbone.pth'
    model = shared_storage_state(mlla_shapes(64, [2, 4, 8, 4]))
    _save_with_fake_yacs(lambda CfgNode: dict(
        model=model, epoch=299, config=CfgNode({'MODEL': CfgNode({'MLLA': CfgNode(
            {'EMBED_DIM': 64, 'DEPTHS': [2, 4, 8, 4], 'NUM_HEADS': [2, 4, 8, 16]})})})), src)
    done = run_cli([sys.executable, TOOL, str(src), str(dst), '--backbone-only',
                    '--pattern', 'default'])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert ("MLLA classifier backbone weights (model), arch 'tiny', layer pattern "
            'LL/LLLL/LLLSLLLS/LLLS') in out
    assert 'folded into their BatchNorm running_mean: downsample conv biases 3' in out
    assert "permuted the qk rows into mmsola's RoPE pairs 36:" in out
    assert 'layers.0.blocks.0.attn.rope.rotations' in out
    assert 'added at their initial value (output norms MLLA lacks) 6: backbone.norm0' in out
    assert ("WARM START, fine-tune before use: 'S' blocks initialised from their MLLA 'L' "
            'block 3: stages.2.blocks.3, stages.2.blocks.7, stages.3.blocks.3') in out
    written = torch.load(dst, map_location='cpu', weights_only=True)
    assert written['meta']['converted_from'] == src.name
    assert written['meta']['warm_start']['blocks'][0] == 'stages.2.blocks.3'
    assert not list(dst.parent.glob('.*.tmp'))  # written atomically: no temporary left

    # the user errors in-process: the tool's main(), no process start
    assert mlla2sola.main([str(src), str(tmp_path / 'b.pth'), '--arch', 'base']) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlla2sola.py: error: arch 'base'") and 'layers.<i>.blocks.<j>' in err
    assert not (tmp_path / 'b.pth').exists()
    before = dst.read_bytes()
    assert mlla2sola.main([str(src), str(dst)]) == 2  # DST exists: kept
    err = capsys.readouterr().err
    assert err.startswith(f'mlla2sola.py: error: {dst} exists; pass --force')
    assert dst.read_bytes() == before
