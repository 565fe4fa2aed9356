"""The pretrained chain and the release step.

A few ``sola_t_in1k`` iterations (tools/train.py on a tiny ImageNet) -> ``cls2backbone.py`` ->
the UperNet and Mask R-CNN backbones load it through their ``init_cfg`` with every key
matched; ``publish_model.py`` keeps exactly the weights and meta under a correct sha256 name.
"""
import hashlib
import os
import sys
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmsola.convert.classifier import convert
from tests.support.fake_data import tiny_cfg_options, write_imagenet
from tests.support.small_models import randomize_, small_backbone
from tests.support.tool_runs import load_tool, run_cli

pytest.importorskip('mmpretrain')

CLS_CONFIG = 'configs/sola_t_in1k.py'
DENSE_CONFIGS = ('configs/upernet_sola_t_ade20k.py', 'configs/mask_rcnn_sola_t_fpn_1x_coco.py')
train, cls2backbone, publish_model = (load_tool(name) for name in (
    'train', 'model_converters/cls2backbone', 'model_converters/publish_model'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory, one_torch_thread):
    """A checkpoint of two sola_t_in1k iterations (EMAHook on, as the config has it)."""
    root = tmp_path_factory.mktemp('in1k')
    data = write_imagenet(root / 'imagenet', num_classes=2, per_class=2, size=(32, 32))
    # no validation pass and no best-checkpoint copy: only the training state matters here
    options = tiny_cfg_options(CLS_CONFIG, data, work_dir=root / 'work', iters=2,
                               img_size=32) + ['train_cfg.val_interval=2',
                                               'default_hooks.checkpoint.save_best=None']
    assert train.main([CLS_CONFIG, '--cfg-options', *options]) == 0
    path = root / 'work' / 'epoch_1.pth'
    assert path.is_file()
    return path


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def _backbone_of(state, prefix='backbone.'):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def test_chain_classifier_to_upernet_and_mask_rcnn_backbones(trained, tmp_path):
    """The conversion step is the tool itself, as a process."""
    ckpt = _load(trained)
    assert 'ema_state_dict' in ckpt and 'optimizer' in ckpt
    out = tmp_path / 'sola_t_in1k_backbone.pth'
    done = run_cli([sys.executable, 'tools/model_converters/cls2backbone.py', str(trained),
                    str(out)])
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout
    converted = _load(out)['state_dict']
    cls_backbone = _backbone_of(ckpt['state_dict'])
    assert f'kept {len(cls_backbone)} backbone tensors' in printed
    assert 'EMA weights' in printed
    assert not any(k.startswith('head.') for k in converted)

    from mmsola.checks import init_toolkit, load_config
    for config in DENSE_CONFIGS:
        cfg = load_config(config, {'model.backbone.init_cfg.checkpoint': str(out)})
        assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
        backbone = init_toolkit(cfg).MODELS.build(cfg.model.backbone)
        fresh = {k: v.clone() for k, v in backbone.state_dict().items()}
        backbone.init_weights()
        loaded = backbone.state_dict()
        # every key of the dense backbone is in the file and nothing else is
        assert set(converted) == {'backbone.' + k for k in loaded}, config
        for key, value in loaded.items():
            assert torch.equal(value, converted['backbone.' + key]), (config, key)
            if key in cls_backbone:  # the classifier's (EMA) weights
                assert torch.equal(value, cls_backbone[key]), (config, key)
            else:  # output norms the classifier lacks: as the dense backbone inits them
                assert key.startswith('norm') and torch.equal(value, fresh[key]), key
        assert sorted(k for k in loaded if k not in cls_backbone) == sorted(
            f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias'))


def test_chain_no_ema_takes_the_raw_training_weights(trained, tmp_path):
    ckpt = _load(trained)
    ema_out, raw_out = tmp_path / 'ema.pth', tmp_path / 'raw.pth'
    assert convert(str(trained), str(ema_out))['weights'] == 'ema'
    assert convert(str(trained), str(raw_out), use_ema=False)['weights'] == 'raw'
    ema, raw = _load(ema_out)['state_dict'], _load(raw_out)['state_dict']
    raw_expected = _backbone_of(ckpt['ema_state_dict'], 'module.backbone.')
    for key, value in raw_expected.items():
        assert torch.equal(raw['backbone.' + key], value), key
    assert _load(raw_out)['meta']['weights'] == 'raw'
    # two iterations apart: the average and the raw weights differ
    assert any(not torch.equal(ema[k], raw[k]) for k in ema if k.endswith('weight'))


class _Classifier(nn.Module):
    """The layout of SoLAVisionCls's state dict (backbone., head.), small."""

    def __init__(self):
        super().__init__()
        self.backbone = small_backbone(out_indices=(3, ))
        self.head = nn.Linear(128, 5)


def test_ema_selection_follows_mmengine_ema_hook(tmp_path):
    """Through mmengine's own EMAHook: the default output is the averaged model, --no-ema
    the trained one, whatever the hook's swap does inside the checkpoint."""
    from mmengine.hooks import EMAHook
    model = randomize_(_Classifier(), seed=1)
    runner = SimpleNamespace(model=model)
    hook = EMAHook(momentum=0.5)
    hook.before_run(runner)
    hook.ema_model.update_parameters(model)  # first update: a copy
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.)
    hook.ema_model.update_parameters(model)  # the average now differs from the model
    ckpt = dict(state_dict=model.state_dict(), meta=dict(epoch=3))
    hook.before_save_checkpoint(runner, ckpt)
    src = tmp_path / 'cls.pth'
    torch.save(ckpt, src)

    assert convert(str(src), str(tmp_path / 'ema.pth'))['weights'] == 'ema'
    assert convert(str(src), str(tmp_path / 'raw.pth'), use_ema=False)['weights'] == 'raw'
    ema = _load(tmp_path / 'ema.pth')['state_dict']
    raw = _load(tmp_path / 'raw.pth')['state_dict']
    for key, value in hook.ema_model.module.backbone.state_dict().items():
        assert torch.equal(ema['backbone.' + key], value), key
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(raw['backbone.' + key], value), key
    assert not torch.equal(ema['backbone.stem.conv1.0.weight'],
                           raw['backbone.stem.conv1.0.weight'])


def test_cls2backbone_bad_input(tmp_path, capsys):
    missing = tmp_path / 'nope.pth'
    assert cls2backbone.main([str(missing), str(tmp_path / 'out.pth')]) == 2
    assert f"IN '{missing}': no such file" in capsys.readouterr().err

    not_sola = tmp_path / 'resnet.pth'
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(2, 3, 1, 1),
                                'head.fc.weight': torch.zeros(5, 2)}), not_sola)
    assert cls2backbone.main([str(not_sola), str(tmp_path / 'out.pth')]) == 2
    err = capsys.readouterr().err
    assert 'no SoLAVision backbone' in err and 'backbone.conv1.weight' in err
    assert not (tmp_path / 'out.pth').exists()

    good = tmp_path / 'cls.pth'
    torch.save(dict(state_dict=_Classifier().state_dict()), good)
    existing = tmp_path / 'existing.pth'
    existing.write_bytes(b'keep me')
    assert cls2backbone.main([str(good), str(existing)]) == 2
    assert 'pass --force' in capsys.readouterr().err
    assert existing.read_bytes() == b'keep me'
    assert cls2backbone.main([str(good), str(existing), '--force']) == 0
    assert 'backbone.norm0.weight' in _load(existing)['state_dict']


def test_publish_model_keeps_weights_and_meta_under_its_sha(trained, tmp_path, capsys):
    """The first publication is the tool itself, as a process."""
    before = trained.stat()
    ckpt = _load(trained)
    done = run_cli([sys.executable, 'tools/model_converters/publish_model.py', str(trained),
                    str(tmp_path / 'sola_t_in1k.pth')])
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout
    (published, ) = tmp_path.glob('sola_t_in1k-*.pth')
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    assert published.name == f'sola_t_in1k-{digest[:8]}.pth'
    assert digest in printed and 'optimizer' in printed

    slim = _load(published)
    assert set(slim) == {'state_dict', 'meta'}
    assert set(slim['state_dict']) == set(ckpt['state_dict'])
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(slim['state_dict'][key], value), key
    assert slim['meta']['epoch'] == ckpt['meta']['epoch'] == 1
    after = trained.stat()  # the training checkpoint is untouched
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    # publishing again finds the identical file; a different file under that name is kept
    assert publish_model.main([str(trained), str(tmp_path / 'sola_t_in1k.pth')]) == 0
    assert 'already published' in capsys.readouterr().out
    published.write_bytes(b'other')
    assert publish_model.main([str(trained), str(tmp_path / 'sola_t_in1k.pth')]) == 2
    assert 'exists with other content' in capsys.readouterr().err
    assert published.read_bytes() == b'other'


def test_publish_model_bad_input(tmp_path, capsys):
    assert publish_model.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth')]) == 2
    assert 'no such file' in capsys.readouterr().err
    weights_only = tmp_path / 'bare.pth'
    torch.save({'conv.weight': torch.zeros(1)}, weights_only)
    assert publish_model.main([str(weights_only), str(tmp_path / 'x.pth')]) == 2
    assert 'has no state_dict' in capsys.readouterr().err
    assert os.listdir(tmp_path) == ['bare.pth']
