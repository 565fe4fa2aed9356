"""What a training run meets after its checks, through tools/train.py in-process: a damaged
or empty (zero-byte) image (named; no hang with dataloader workers), an empty annotation file,
labels outside the classes, and a loss that turns NaN or infinite (the run stops at that
iteration in mmseg, mmpretrain and mmdet, and the last good checkpoint is kept).

These errors are found while the run runs, so its log folder (``<work_dir>/<timestamp>/``,
which records the error) is written; no checkpoint is, and the files already in the work dir
stay as they were.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from PIL import Image

from mmsola.utils import read_checkpoint
from tests.support import tool_runs
from tests.support.fake_data import write_ade20k, write_coco, write_imagenet
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures('one_torch_thread')

UPERNET, MASK_RCNN, IN1K = ('configs/upernet_sola_t_ade20k.py',
                            'configs/mask_rcnn_sola_t_fpn_1x_coco.py', 'configs/sola_t_in1k.py')
NO_VAL = 'train_cfg.val_interval=100'  # the validation pass is not what these tests check


def _fails(config: str, data_root, work_dir: Path, *words: str, extra=(), **shrink) -> str:
    """tools/train.py on the tiny config must stop with one message holding ``words``; the
    files already in ``work_dir`` stay, and no checkpoint is written. Returns the message."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / 'notes.txt').write_text('the user\'s file')
    options = tool_runs.tiny_options(config, data_root, work_dir, extra=(NO_VAL, *extra),
                                     **shrink)
    status, stderr = tool_runs.main('train', [REPO_ROOT / config, '--cfg-options', *options])
    assert status == 2, stderr[-3000:]
    message = tool_runs.error_message(stderr, 'train.py')
    assert message.startswith('error: ') and 'Traceback' not in message
    for word in words:
        assert word in message, f'{word!r} not in:\n{message}'
    assert (work_dir / 'notes.txt').read_text() == 'the user\'s file'
    return message


def _checkpoints(work_dir: Path):
    return sorted(p.name for p in work_dir.glob('*.pth'))


# ------------------------------------------------------------------------------ datasets
def test_damaged_image_is_named(tmp_path):
    root = write_imagenet(tmp_path / 'imagenet', num_classes=2, per_class=2, size=(32, 32))
    damaged = root / 'train' / 'n01443537' / 'n01443537_1.JPEG'
    damaged.write_bytes(b'\xff\xd8 not the rest of a jpeg')
    _fails(IN1K, root, tmp_path / 'work', f'error: the image {damaged} cannot be decoded',
           img_size=32)
    assert _checkpoints(tmp_path / 'work') == []


def test_empty_image_is_named(tmp_path):
    """OpenCV's error for a zero-byte file names no file; the message names it."""
    root = write_imagenet(tmp_path / 'imagenet', num_classes=2, per_class=2, size=(32, 32))
    empty = root / 'train' / 'n01443537' / 'n01443537_1.JPEG'
    empty.write_bytes(b'')
    _fails(IN1K, root, tmp_path / 'work',
           f'error: the image {empty} cannot be decoded: the file is empty (0 bytes)',
           img_size=32)
    assert _checkpoints(tmp_path / 'work') == []


@pytest.mark.parametrize('content, words', [
    (b'\xff\xd8 not the rest of a jpeg', 'cannot be decoded: the file is damaged'),
    (b'', 'cannot be decoded: the file is empty (0 bytes)'),
], ids=['damaged', 'empty'])
def test_bad_image_in_dataloader_workers_does_not_hang(tmp_path, content, words):
    """Two worker processes, persistent: the run ends within the timeout, exit status 2."""
    root = write_imagenet(tmp_path / 'imagenet', num_classes=2, per_class=2, size=(32, 32))
    damaged = root / 'train' / 'n01440764' / 'n01440764_2.JPEG'
    damaged.write_bytes(content)
    options = tool_runs.tiny_options(IN1K, root, tmp_path / 'work', img_size=32, extra=(
        NO_VAL, 'train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True'))
    run = tool_runs.run_cli([sys.executable, 'tools/train.py', IN1K, '--cfg-options', *options],
                            timeout=240)
    assert run.returncode == 2, run.stderr[-3000:]
    message = run.stderr[run.stderr.index('error: '):]  # after any warnings
    assert message.startswith(f'error: the image {damaged} {words}'), message
    assert 'Traceback' not in run.stderr


def test_empty_annotation_file_is_refused_before_the_run(tmp_path):
    root = write_imagenet(tmp_path / 'imagenet', num_classes=2, per_class=1, size=(32, 32))
    (root / 'meta' / 'train.txt').write_bytes(b'')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    options = tool_runs.tiny_options(IN1K, root, work_dir)
    status, stderr = tool_runs.main('train', [REPO_ROOT / IN1K, '--cfg-options', *options])
    assert status == 2
    assert f'{root}/meta/train.txt (train_dataloader.dataset.split) is empty (0 bytes)' in \
        tool_runs.error_message(stderr, 'train.py')
    assert list(work_dir.iterdir()) == []  # nothing written: not even a log


def test_annotation_file_without_samples(tmp_path):
    root = write_coco(tmp_path / 'coco', num_train=2, num_val=1)
    ann_file = root / 'annotations' / 'instances_train2017.json'
    content = json.loads(ann_file.read_text())
    ann_file.write_text(json.dumps(dict(content, images=[], annotations=[])))
    _fails(MASK_RCNN, root, tmp_path / 'work', 'the dataset CocoDataset under', 'holds no sample',
           'instances_train2017.json list none')
    assert _checkpoints(tmp_path / 'work') == []


def test_class_label_outside_the_classes(tmp_path):
    root = write_imagenet(tmp_path / 'imagenet', num_classes=2, per_class=1, size=(32, 32))
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()
    lines[1] = lines[1].rsplit(' ', 1)[0] + ' 1000'
    (root / 'meta' / 'train.txt').write_text('\n'.join(lines) + '\n')
    image = root / 'train' / lines[1].split()[0]
    _fails(IN1K, root, tmp_path / 'work', f'training data: the label of {image} holds label '
           "1000, outside the model's 1000 classes (0..999)", img_size=32)


def test_segmentation_label_outside_the_classes(tmp_path):
    root = write_ade20k(tmp_path / 'ade', num_train=1, num_val=1, size=(32, 32))
    label_map, = (root / 'annotations' / 'training').glob('*.png')
    label = np.array(Image.open(label_map))
    label[:4, :4] = 200
    Image.fromarray(label).save(label_map)
    _fails(UPERNET, root, tmp_path / 'work', f'training data: {label_map} (of ',
           'holds label 199 (value 200 in the file, less 1 for reduce_zero_label)',
           "outside the model's 150 classes (0..149, or 255 (ignored))", img_size=32,
           batch_size=1)


# ------------------------------------------------------------------------------- the loss
@pytest.fixture
def poisoned_loss(monkeypatch):
    """``poison(at, value)``: the ``at``-th training step (from 1) gets a loss term ``value``,
    through mmengine's BaseModel.parse_losses (which all three toolkits' models use)."""

    def poison(at: int, value: float):
        original, calls = BaseModel.parse_losses, []

        def parse_losses(self, losses):
            calls.append(1)
            if len(calls) == at:
                losses = dict(losses, loss_poison=torch.tensor(value))
            return original(self, losses)

        monkeypatch.setattr(BaseModel, 'parse_losses', parse_losses)

    return poison


@pytest.mark.parametrize('config, value, kept, data', [
    (UPERNET, float('nan'), 'iter_2.pth', lambda root: write_ade20k(root, 4, 1, (32, 32))),
    (IN1K, float('inf'), 'epoch_1.pth', lambda root: write_imagenet(root, 2, 2, (32, 32))),
    (MASK_RCNN, float('-inf'), 'epoch_1.pth', lambda root: write_coco(root, 4, 1)),
], ids=['mmseg', 'mmpretrain', 'mmdet'])
def test_loss_that_is_not_finite_stops_at_its_iteration(config, value, kept, data, tmp_path,
                                                        poisoned_loss):
    root, work_dir = data(tmp_path / 'data'), tmp_path / 'work'
    poisoned_loss(3, value)  # iterations 1, 2 (and the checkpoint after 2) are good
    message = _fails(config, root, work_dir, f'the training loss is {value} at iteration 3',
                     'loss_poison=', f'the last good checkpoint, {work_dir / kept}, is kept',
                     epochs=2, img_size=32)
    assert 'resume from it with --resume' in message
    assert _checkpoints(work_dir) == [kept]
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / kept)
    state = read_checkpoint(str(work_dir / kept))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    log, = work_dir.glob('*/*.log')
    assert 'the training loss is' in log.read_text()  # the run's log records why it stopped
