"""FiniteLossHook and DatasetCheckHook on their own (a stand-in runner): what they accept,
what they refuse and what they say; in distributed runs every rank stops together."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import HOOKS
from mmengine.structures import BaseDataElement, PixelData

import mmsola  # noqa: F401  (registers the hooks)
from mmsola.engine import DatasetCheckError, DatasetCheckHook, FiniteLossHook, InvalidLossError
from mmsola.engine.hooks import finite_loss_hook


def _runner(tmp_path, model=None, dataset=()):
    return SimpleNamespace(iter=6, epoch=0, train_loop=None, work_dir=str(tmp_path),
                           logger=MMLogger.get_instance(f'hooks_{id(tmp_path)}'), model=model,
                           train_dataloader=SimpleNamespace(dataset=dataset))


def test_registered_in_the_root_registry_with_a_high_priority():
    for name in ('FiniteLossHook', 'DatasetCheckHook'):
        hook = HOOKS.build(dict(type=name))
        assert hook.priority == 'VERY_HIGH'  # before EMA, logger and checkpoint hooks


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_loss_that_is_not_finite_is_refused_with_its_terms(bad, tmp_path):
    (tmp_path / 'iter_6.pth').write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    outputs = dict(loss=torch.tensor(bad), loss_cls=torch.tensor(0.5),
                   loss_bbox=torch.tensor(bad), acc=torch.tensor(90.))
    with pytest.raises(InvalidLossError) as error:
        FiniteLossHook().after_train_iter(_runner(tmp_path), 6, outputs=outputs)
    message = str(error.value)
    assert message.startswith(f'the training loss is {bad} at iteration 7 (loss_cls=0.5, '
                              f'loss_bbox={bad});')
    assert f"the last good checkpoint, {tmp_path / 'iter_6.pth'}, is kept" in message
    assert 'acc' not in message and 'clip_grad' in message


def test_finite_loss_passes_and_no_checkpoint_is_said(tmp_path):
    hook = FiniteLossHook()
    hook.after_train_iter(_runner(tmp_path), 0, outputs=dict(loss=torch.tensor(2.), x=1))
    hook.after_train_iter(_runner(tmp_path), 0, outputs=None)
    with pytest.raises(InvalidLossError, match='no checkpoint was saved yet'):
        hook.after_train_iter(_runner(tmp_path), 0, outputs=dict(loss=float('nan')))


def test_every_rank_stops_when_one_loss_is_not_finite(tmp_path, monkeypatch):
    """This rank's loss is fine, another's is not (the all-reduce says 1): stop too."""
    reduced = []

    def all_reduce(flag):
        reduced.append(float(flag))
        flag += 1

    monkeypatch.setattr(finite_loss_hook, 'get_world_size', lambda: 2)
    monkeypatch.setattr(finite_loss_hook, 'all_reduce', all_reduce)
    with pytest.raises(InvalidLossError, match='on 1 of 2 processes'):
        FiniteLossHook().after_train_iter(_runner(tmp_path), 0,
                                          outputs=dict(loss=torch.tensor(1.)))
    assert reduced == [0.]


def _segmentor(num_classes=4, ignore_index=255):
    decode_head = torch.nn.Module()
    decode_head.num_classes, decode_head.ignore_index = num_classes, ignore_index
    model = torch.nn.Module()
    model.decode_head = decode_head
    return model


def _seg_sample(values, reduce_zero_label=True):
    sample = BaseDataElement(metainfo=dict(img_path='a.jpg', seg_map_path='a.png',
                                           reduce_zero_label=reduce_zero_label))
    sample.gt_sem_seg = PixelData(data=torch.tensor(values).view(1, 1, -1))
    return sample


def test_labels_outside_the_classes_are_named(tmp_path):
    hook, runner = DatasetCheckHook(), _runner(tmp_path, model=_segmentor())
    hook.before_train_iter(runner, 0, dict(data_samples=[_seg_sample([0, 3, 255])]))
    with pytest.raises(DatasetCheckError) as error:
        hook.before_val_iter(runner, 0, dict(data_samples=[_seg_sample([1, 9, 7, 255])]))
    assert str(error.value).startswith(
        'validation data: a.png (of a.jpg) holds label 7 (value 8 in the file, less 1 for '
        "reduce_zero_label) and 1 more, outside the model's 4 classes (0..3, or 255 (ignored))")

    classifier = torch.nn.Module()
    classifier.head = SimpleNamespace(num_classes=10)
    sample = BaseDataElement(metainfo=dict(img_path='b.jpg'))
    sample.gt_label = torch.tensor([-1])
    with pytest.raises(DatasetCheckError, match=r"the label of b.jpg holds label -1, outside "
                       r"the model's 10 classes \(0..9\)\."):
        hook.before_test_iter(_runner(tmp_path, model=classifier), 0,
                              dict(data_samples=[sample]))


def test_an_empty_training_set_is_refused(tmp_path):
    class Empty(list):
        ann_file, data_root = 'ann/train.json', '/data/coco'

    with pytest.raises(DatasetCheckError, match=r'the training set \(Empty under /data/coco\) '
                       'holds no sample: its annotation file ann/train.json list none'):
        DatasetCheckHook().before_train(_runner(tmp_path, dataset=Empty()))
    DatasetCheckHook().before_train(_runner(tmp_path, dataset=Empty([1])))
