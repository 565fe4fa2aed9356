"""Helpers of the report: which validation images the grid shows, the curve's input, the
confusion matrix."""
import json

import numpy as np
import pytest

from demo.evaluate import confusion_matrix, pick_samples
from demo.plots import colourise, read_scalars


def sample(*classes):
    gt = np.full((4, 4), 255, np.uint8)
    gt.flat[:len(classes)] = classes
    return dict(img_path=f'{classes}.jpg', gt=gt, pred=gt)


def test_grid_samples_cover_classes_then_fill_in_order():
    samples = [sample(0, 1), sample(0), sample(1), sample(2), sample(0, 1), sample(3)]
    assert [s['img_path'] for s in pick_samples(samples, 3)] == [
        '(0, 1).jpg', '(2,).jpg', '(3,).jpg']
    assert [s['img_path'] for s in pick_samples(samples, 4)] == [
        '(0, 1).jpg', '(0,).jpg', '(2,).jpg', '(3,).jpg']
    assert len(pick_samples(samples, 10)) == 6


def test_colourise_draws_ignored_pixels_black():
    rgb = colourise(np.array([[0, 1], [255, 1]], np.uint8), [[10, 20, 30], [40, 50, 60]])
    assert rgb.tolist() == [[[10, 20, 30], [40, 50, 60]], [[0, 0, 0], [40, 50, 60]]]


def test_read_scalars_splits_loss_and_val_miou(tmp_path):
    path = tmp_path / 'scalars.json'
    lines = [dict(lr=0.1, loss=2.0, iter=10, step=10), dict(aAcc=50.0, mIoU=12.5, step=10),
             dict(lr=0.1, loss=1.0, iter=20, step=20)]
    path.write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
    assert read_scalars(path) == {'loss': [(10, 2.0), (20, 1.0)], 'mIoU': [(10, 12.5)]}
    path.write_text(json.dumps(dict(mIoU=1.0, step=1)) + '\n')
    with pytest.raises(ValueError, match='no training loss'):
        read_scalars(path)


def test_confusion_matrix_rows_are_truth():
    gt = np.array([[0, 0], [1, 255]], np.uint8)
    pred = np.array([[0, 1], [1, 0]], np.uint8)
    counts = confusion_matrix([dict(gt=gt, pred=pred)] * 2, 3)
    assert counts.tolist() == [[2, 2, 0], [0, 2, 0], [0, 0, 0]]
