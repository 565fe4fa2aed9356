"""Refuse an empty training set and labels outside the model's classes, naming the file.

Left alone, the toolkits meet these late and unclearly: an epoch-based run over an empty
dataset "trains" its whole schedule with no iteration and saves untrained weights; a label
past the classifier's or segmentor's last class fails inside the loss ("Target 199 is out of
bounds", or a CUDA device-side assert) without saying which file holds it.
:class:`DatasetCheckHook` checks the training set's size before training and each batch's
labels before its step (train, val and test), and raises :class:`DatasetCheckError` naming
the annotation file or the image and label map.
"""
from typing import Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmsola.errors import UserError

# Where each toolkit's model keeps the head that defines the classes (first found wins).
_HEADS = ('decode_head', 'roi_head.bbox_head', 'bbox_head', 'head')


class DatasetCheckError(UserError, ValueError):
    """A dataset the model cannot train or test on; the message names the file."""


def _attr_path(obj, dotted: str):
    for name in dotted.split('.'):
        obj = getattr(obj, name, None)
        if isinstance(obj, (list, tuple, torch.nn.ModuleList)):
            obj = obj[-1] if len(obj) else None  # cascade heads: the last stage's classes
        if obj is None:
            return None
    return obj


def model_classes(model) -> Tuple[Optional[int], Optional[int]]:
    """``(num_classes, ignore_index)`` of a classifier, segmentor or detector (DDP
    unwrapped); ``(None, None)`` when no head says."""
    model = getattr(model, 'module', model)
    for dotted in _HEADS:
        head = _attr_path(model, dotted)
        if head is not None and isinstance(getattr(head, 'num_classes', None), int):
            return head.num_classes, getattr(head, 'ignore_index', None)
    return None, None


def _labels(sample) -> Tuple[Optional[torch.Tensor], str, int]:
    """The labels of one data sample, the file they come from, and what the loader
    subtracted from the values in the file (mmseg's ``reduce_zero_label``: 1)."""
    meta = getattr(sample, 'metainfo', {}) or {}
    image = meta.get('img_path', 'a sample')
    if 'gt_sem_seg' in sample:
        return (sample.gt_sem_seg.data, f'{meta.get("seg_map_path", "the label map")} '
                f'(of {image})', int(bool(meta.get('reduce_zero_label'))))
    if 'gt_instances' in sample and 'labels' in sample.gt_instances:
        return sample.gt_instances.labels, f'the annotations of {image}', 0
    if 'gt_label' in sample:
        return sample.gt_label, f'the label of {image}', 0
    return None, image, 0


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Raise :class:`DatasetCheckError` for an empty training set, or for a batch whose
    labels lie outside ``0 .. num_classes - 1`` (the segmentor's ``ignore_index`` aside).

    In a config (mmdet, mmseg or mmpretrain)::

        custom_hooks = [dict(type='DatasetCheckHook')]
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if len(dataset) == 0:
            ann_file = getattr(dataset, 'ann_file', '') or ''
            where = f'its annotation file {ann_file}' if ann_file else 'its folders'
            raise DatasetCheckError(
                f'the training set ({type(dataset).__name__} under '
                f'{getattr(dataset, "data_root", "") or "its data root"}) holds no sample: '
                f'{where} list none, or the dataset\'s filters (e.g. filter_cfg) removed them '
                'all. Check the annotation file and the config\'s train_dataloader.dataset.')

    def _check(self, runner, data_batch, split: str) -> None:
        if not isinstance(data_batch, dict) or not data_batch.get('data_samples'):
            return
        num_classes, ignore_index = model_classes(runner.model)
        if num_classes is None:
            return
        for sample in data_batch['data_samples']:
            labels, source, shift = _labels(sample)
            if labels is None or labels.numel() == 0:
                continue
            values = labels.unique()
            if ignore_index is not None:
                values = values[values != ignore_index]
            bad = values[(values < 0) | (values >= num_classes)]
            if bad.numel():
                ignored = f', or {ignore_index} (ignored)' if ignore_index is not None else ''
                value = int(bad[0])
                in_file = (f' (value {value + shift} in the file, less 1 for reduce_zero_label)'
                           if shift else '')
                more = f' and {bad.numel() - 1} more' if bad.numel() > 1 else ''
                raise DatasetCheckError(
                    f'{split} data: {source} holds label {value}{in_file}{more}, outside the '
                    f"model's {num_classes} classes (0..{num_classes - 1}{ignored}). Fix the "
                    'file, or set the number of classes of the model to that of the dataset.')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._check(runner, data_batch, 'training')

    def before_val_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._check(runner, data_batch, 'validation')

    def before_test_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._check(runner, data_batch, 'test')
