"""The helpers several tools share: dataset wrappers, devices, pattern comparisons and the
SoLAVision factory."""
import pytest
import torch

from mmsola.analysis.patterns import compare_patterns
from mmsola.utils.backbone import BackboneFactory, model_backbone, set_layer_pattern
from mmsola.utils.dataset_wrappers import pipeline_dataset, unwrap_datasets
from mmsola.utils.devices import check_device, choose_device, default_device


def test_unwrapping_dataset_wrappers():
    a, b = dict(type='A', pipeline=[]), dict(type='B')
    concat = dict(type='ConcatDataset', datasets=[dict(type='RepeatDataset', dataset=a), b])
    assert list(unwrap_datasets(concat, 'train_dataloader.dataset')) == [
        (a, 'train_dataloader.dataset.datasets.0.dataset'),
        (b, 'train_dataloader.dataset.datasets.1')]
    assert pipeline_dataset(dict(type='RepeatDataset', dataset=a)) is a
    mix = dict(type='MultiImageMixDataset', pipeline=['Mosaic'], dataset=a)
    assert pipeline_dataset(mix) is mix  # a wrapper with its own pipeline
    assert pipeline_dataset(b) is b


def test_devices():
    assert default_device() == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert choose_device() == torch.device(default_device())
    assert choose_device('cpu', distributed=True) == torch.device('cpu')
    with pytest.raises(ValueError, match="'mps' is not supported"):
        check_device('mps')
    with pytest.raises(ValueError, match="'gpu0' is not a device"):
        choose_device('gpu0')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available; use --device cpu'):
            choose_device('cuda')


def test_compare_patterns():
    assert compare_patterns(['L', 'LS', 'LH']) == {
        'all-linear': ['L', 'LL', 'LL'], 'hybrid': ['L', 'LS', 'LH'],
        'all-softmax': ['S', 'SS', 'SS']}


def test_backbone_factory_and_layer_patterns_in_configs():
    factory = BackboneFactory('tiny', out_indices=(0, 3))
    assert factory.default_pattern == ['LL', 'LLLL', 'LLLSLLLS', 'LLLS']
    backbone = factory.build('LL/LLLL/LLLLLLLL/LLLL')
    assert backbone.layer_pattern == ['LL', 'LLLL', 'LLLLLLLL', 'LLLL']
    assert tuple(backbone.out_indices) == (0, 3)
    holder = torch.nn.Module()
    holder.backbone = backbone
    assert model_backbone(holder) is backbone and model_backbone(backbone) is backbone
    classifier = dict(type='SoLAVisionCls', backbone=dict(layer_pattern=['L']))
    assert set_layer_pattern(dict(type='X', inner=classifier), ['S'])
    assert classifier == dict(type='SoLAVisionCls', backbone={}, layer_pattern=['S'])
    assert not set_layer_pattern(dict(type='ResNet'), ['S'])
