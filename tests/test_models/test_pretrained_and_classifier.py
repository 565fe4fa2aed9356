"""init_cfg Pretrained (round trip through a classifier checkpoint, reporting, errors) and
the SoLAVisionCls builder."""
import logging
import sys

import mmengine.logging
import pytest
import torch
from mmengine.registry import MODELS

from mmsola.models import SoLAVision, build_sola_vision_cls
from tests.support.small_models import SMALL, randomize_, small_backbone

ARCH = dict(embed_dims=SMALL['embed_dims'], layer_pattern=SMALL['layer_pattern'])


@pytest.fixture
def logged(monkeypatch):
    """Messages sent through mmengine's print_log."""
    messages = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, logger=None, level=logging.INFO: messages.append((level, msg)))
    return messages


@pytest.fixture(scope='module')
def classifier():
    pytest.importorskip('mmpretrain')
    model = MODELS.build(dict(type='SoLAVisionCls', num_classes=7, **ARCH))
    return randomize_(model).eval()


def test_classifier_setup(classifier):
    from mmpretrain.models import ImageClassifier
    assert isinstance(classifier, ImageClassifier)
    assert isinstance(classifier.backbone, SoLAVision)
    assert classifier.backbone.out_indices == (3, )
    assert classifier.head.fc.in_features == 128 and classifier.head.fc.out_features == 7
    logits = classifier(torch.rand(2, 3, 61, 75), mode='tensor')
    assert logits.shape == (2, 7)


def test_classifier_accepts_backbone_overrides():
    pytest.importorskip('mmpretrain')
    model = build_sola_vision_cls(num_classes=3, backbone=dict(out_indices=(2, ), hsb=True),
                                  **ARCH)
    assert model.backbone.hsb is not None
    assert model.head.fc.in_features == 64  # follows the last output stage
    assert model(torch.rand(1, 3, 64, 64), mode='tensor').shape == (1, 3)


def test_classifier_without_mmpretrain_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmpretrain', None)
    monkeypatch.setitem(sys.modules, 'mmpretrain.models', None)
    with pytest.raises(ImportError, match=r"needs mmpretrain>=1\.0\.0,<1\.3\.0.*Install it"):
        MODELS.build(dict(type='SoLAVisionCls', **ARCH))


def test_pretrained_round_trip_through_classifier_checkpoint(classifier, tmp_path, logged):
    path = tmp_path / 'cls.pth'
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, path)
    model = small_backbone(init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                         prefix='backbone.'))
    x = torch.rand(2, 3, 65, 47)
    assert not torch.allclose(model.eval()(x)[0], classifier.backbone(x)[0])
    model.init_weights()
    torch.testing.assert_close(model.eval()(x)[0], classifier.backbone(x)[0], rtol=0, atol=0)
    assert any('(100.0%)' in msg for _, msg in logged)


def test_partial_match_is_reported(classifier, tmp_path, logged):
    """A detection backbone (four outputs) from a classifier: norm0-2 are new, all else loads."""
    path = tmp_path / 'cls.pth'
    torch.save({'state_dict': classifier.state_dict()}, path)
    model = small_backbone(out_indices=(0, 1, 2, 3),
                           init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                         prefix='backbone.'))
    model.init_weights()
    total = len([k for k in model.state_dict() if not k.endswith('num_batches_tracked')])
    assert any(f'loaded {total - 6}/{total} keys' in msg for _, msg in logged)
    warnings = [msg for level, msg in logged if level >= logging.WARNING]
    assert warnings and 'norm0.weight' in warnings[0]
    torch.testing.assert_close(model.stages[3].blocks[0].mlp.fc1.weight,
                               classifier.backbone.stages[3].blocks[0].mlp.fc1.weight)


def test_other_init_cfgs_run_first_and_init_cfg_is_left_as_given(classifier, tmp_path):
    """A Constant init under a classifier checkpoint: what the checkpoint lacks (norm0-2)
    keeps the Constant values, the rest is the checkpoint's; ``init_cfg`` is not touched."""
    path = tmp_path / 'cls.pth'
    torch.save({'state_dict': classifier.state_dict()}, path)
    init_cfg = [dict(type='Constant', layer='LayerNorm', val=0.5, bias=0.25),
                dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')]
    model = small_backbone(out_indices=(0, 1, 2, 3), init_cfg=init_cfg)
    given = model.init_cfg
    model.init_weights()
    assert model.init_cfg is given and model.init_cfg == init_cfg and model.is_init
    assert torch.all(model.norm0.weight == 0.5) and torch.all(model.norm2.bias == 0.25)
    assert torch.equal(model.norm3.weight, classifier.backbone.norm3.weight)
    assert torch.equal(model.stages[1].blocks[0].norm1.weight,
                       classifier.backbone.stages[1].blocks[0].norm1.weight)


@pytest.mark.parametrize('state_dict,prefix', [
    ({'backbone.foo.weight': torch.zeros(3)}, 'backbone.'),  # another model
    (None, 'model.'),  # the right model under a wrong prefix
])
def test_checkpoint_matching_nothing_is_an_error(state_dict, prefix, tmp_path):
    if state_dict is None:
        state_dict = {'backbone.' + k: v for k, v in small_backbone().state_dict().items()}
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': state_dict}, path)
    model = small_backbone(init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                         prefix=prefix))
    with pytest.raises(RuntimeError) as err:
        model.init_weights()
    msg = str(err.value)
    assert 'matches none of the' in msg and 'stem.conv1.0.weight' in msg
    assert next(iter(state_dict)) in msg


def test_shape_mismatch_is_skipped_and_reported(tmp_path, logged):
    other = randomize_(small_backbone(mlp_ratio=2.))
    path = tmp_path / 'mlp2.pth'
    torch.save(other.state_dict(), path)
    model = small_backbone(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    fc1 = model.stages[0].blocks[0].mlp.fc1.weight.clone()
    model.init_weights()
    warnings = [msg for level, msg in logged if level >= logging.WARNING]
    assert any('shape mismatch' in m and 'mlp.fc1.weight' in m for m in warnings)
    assert torch.equal(model.stages[0].blocks[0].mlp.fc1.weight, fc1)  # kept at init
    assert torch.equal(model.stem.conv1[0].weight, other.stem.conv1[0].weight)


def test_other_width_matches_nothing(tmp_path):
    path = tmp_path / 'wide.pth'
    torch.save(SoLAVision('tiny', embed_dims=32, layer_pattern=SMALL['layer_pattern'])
               .state_dict(), path)
    model = small_backbone(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(RuntimeError, match=r'right name but another shape, e.g. \[.stem'):
        model.init_weights()
