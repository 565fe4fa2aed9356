"""tools/infer.py draws and saves predictions through the toolkits' own Inferencers;
mmsola.analysis.inference_speed (behind tools/analysis/inference_speed.py) measures images/s
on synthetic and on dataset inputs."""
import argparse
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mmsola.analysis.inference_speed import measure_inference_speed, report
from mmsola.checks import CheckpointError
from tests.support.fake_data import tiny_cfg_options, write_ade20k, write_coco, write_imagenet
from tests.support.tool_runs import load_tool, run_cli

pytest.importorskip('mmseg')
pytest.importorskip('mmpretrain')

SEG_CONFIG = 'configs/upernet_sola_t_ade20k.py'
CLS_CONFIG = 'configs/sola_t_in1k.py'
DET_CONFIG = 'configs/mask_rcnn_sola_t_fpn_1x_coco.py'
infer = load_tool('infer')


def _parsed(options):
    """``--cfg-options`` strings as the tools' ``DictAction`` parses them."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def _checkpoint(config, path, meta):
    from mmsola.checks import build_model, load_config
    model = build_model(load_config(config))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path


@pytest.fixture(scope='module')
def data(tmp_path_factory, one_torch_thread):
    """Tiny ADE20K and ImageNet layouts, a checkpoint of each config (random weights; the
    classifier's with its own class names in meta, the segmentor's without meta) and the
    options that shrink each config onto its data."""
    root = tmp_path_factory.mktemp('infer')
    ade = write_ade20k(root / 'ade', num_train=1, num_val=2, size=(40, 56))
    imagenet = write_imagenet(root / 'imagenet', num_classes=2, per_class=1, size=(40, 40))
    classes = tuple(f'thing_{i}' for i in range(1000))
    return dict(
        ade=ade, imagenet=imagenet, classes=classes,
        seg_ckpt=_checkpoint(SEG_CONFIG, root / 'seg.pth', {}),
        cls_ckpt=_checkpoint(CLS_CONFIG, root / 'cls.pth', dict(dataset_meta=dict(
            classes=classes))),
        seg_options=tiny_cfg_options(SEG_CONFIG, ade, img_size=32),
        cls_options=tiny_cfg_options(CLS_CONFIG, imagenet, img_size=32))


def test_infer_segmentation_folder(data, tmp_path):
    """As a user runs it (a fresh process)."""
    images = sorted((data['ade'] / 'images' / 'validation').glob('*.jpg'))
    out = tmp_path / 'out'
    done = run_cli([sys.executable, 'tools/infer.py', SEG_CONFIG, str(data['seg_ckpt']),
                    str(images[0].parent), '--out-dir', str(out), '--device', 'cpu',
                    '--cfg-options', *data['seg_options']])
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'classes and palette from the config' in done.stdout
    for image in images:
        original = np.asarray(Image.open(image))
        drawn = np.asarray(Image.open(out / 'vis' / image.name))
        assert drawn.shape == original.shape
        # the class colours are blended over the image
        assert np.abs(drawn.astype(int) - original).mean() > 5
        label = np.asarray(Image.open(out / 'preds' / f'{image.stem}.png'))
        assert label.shape == original.shape[:2] and label.max() < 150
    assert sorted(p.name for p in (out / 'preds').iterdir()) == [
        f'{i.stem}.png' for i in images]


def test_infer_classification_files(data, tmp_path):
    images = sorted((data['imagenet'] / 'val').glob('*.JPEG'))
    out = tmp_path / 'out'
    assert infer.main([CLS_CONFIG, str(data['cls_ckpt']), *map(str, images), '--out-dir',
                       str(out), '--device', 'cpu', '--batch-size', '2',
                       '--cfg-options', *data['cls_options']]) == 0
    for image in images:
        assert Image.open(out / 'vis' / f'{image.stem}.png').size[0] > 0
        pred = json.loads((out / 'preds' / f'{image.stem}.json').read_text())
        assert len(pred['pred_scores']) == 1000
        assert pred['pred_label'] == int(np.argmax(pred['pred_scores']))
        assert pred['pred_score'] == pytest.approx(max(pred['pred_scores']))
        # the class names saved in the checkpoint's meta
        assert pred['pred_class'] == data['classes'][pred['pred_label']]


def test_infer_detection(one_torch_thread, tmp_path):
    pytest.importorskip('mmdet')
    coco = write_coco(tmp_path / 'coco', num_train=1, num_val=2, size=(48, 64))
    checkpoint = _checkpoint(DET_CONFIG, tmp_path / 'det.pth', {})
    images = sorted((coco / 'val2017').glob('*.jpg'))
    out = tmp_path / 'out'
    # random weights score every class about 1/81: keep (and draw) ten boxes of any score
    options = tiny_cfg_options(DET_CONFIG, coco, img_size=32) + [
        'model.test_cfg.rcnn.score_thr=0', 'model.test_cfg.rcnn.max_per_img=10']
    assert infer.main([DET_CONFIG, str(checkpoint), str(coco / 'val2017'), '--out-dir',
                       str(out), '--device', 'cpu', '--score-thr', '0',
                       '--cfg-options', *options]) == 0
    for image in images:
        original = np.asarray(Image.open(image))
        drawn = np.asarray(Image.open(out / 'vis' / image.name))
        assert drawn.shape == original.shape
        assert np.abs(drawn.astype(int) - original).mean() > 1  # boxes and masks drawn
        pred = json.loads((out / 'preds' / f'{image.stem}.json').read_text())
        assert len(pred['labels']) == len(pred['scores']) == len(pred['bboxes']) == len(
            pred['masks']) == 10
        assert all(0 <= label < 80 for label in pred['labels'])
        x1, y1, x2, y2 = np.array(pred['bboxes']).T  # boxes in the original image
        assert (x1 >= 0).all() and (x2 <= 64).all() and (y2 <= 48).all()


def test_infer_bad_input(data, tmp_path, capsys):
    image = next((data['ade'] / 'images' / 'validation').glob('*.jpg'))
    out = tmp_path / 'out'

    def error(*argv):
        assert infer.main([*argv, '--out-dir', str(out)]) == 2
        return capsys.readouterr().err

    assert "image 'missing.jpg' does not exist" in error(
        SEG_CONFIG, str(data['seg_ckpt']), 'missing.jpg')
    (tmp_path / 'empty').mkdir()
    assert 'holds no image' in error(SEG_CONFIG, str(data['seg_ckpt']), str(tmp_path / 'empty'))
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / image.name).write_bytes(image.read_bytes())
    assert 'have the same name' in error(SEG_CONFIG, str(data['seg_ckpt']), str(image),
                                         str(tmp_path / 'a'))
    (tmp_path / 'broken.jpg').write_bytes(b'not an image')
    assert 'not a readable image' in error(SEG_CONFIG, str(data['seg_ckpt']),
                                           str(tmp_path / 'broken.jpg'))
    # a classifier checkpoint for the segmentor: the mismatch is named, nothing is built
    message = error(SEG_CONFIG, str(data['cls_ckpt']), str(image))
    assert 'does not fit the model' in message and 'unexpected: head.fc.weight' in message
    assert not out.exists()


def test_infer_grayscale_rgba_and_16_bit_pngs(data, tmp_path):
    """Not RGB, yet fine: the loaders convert them; each gets its drawing and label map."""
    rng = np.random.default_rng(0)
    folder = tmp_path / 'pngs'
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8), 'L').save(folder / 'gray.png')
    Image.fromarray(rng.integers(0, 256, (40, 48, 4), dtype=np.uint8), 'RGBA').save(
        folder / 'rgba.png')
    Image.fromarray(rng.integers(0, 65536, (40, 48), dtype=np.uint16)).save(folder / 'deep.png')
    assert Image.open(folder / 'deep.png').mode.startswith('I')  # 16 bits per pixel on disk
    out = tmp_path / 'out'
    assert infer.main([SEG_CONFIG, str(data['seg_ckpt']), str(folder), '--out-dir', str(out),
                       '--device', 'cpu', '--cfg-options', *data['seg_options']]) == 0
    for stem in ('gray', 'rgba', 'deep'):
        drawn = np.asarray(Image.open(out / 'vis' / f'{stem}.png'))
        assert drawn.shape == (40, 48, 3)
        label_map = np.asarray(Image.open(out / 'preds' / f'{stem}.png'))
        assert label_map.shape == (40, 48) and label_map.max() < 150


def test_infer_refuses_a_1x1_image(data, tmp_path, capsys):
    tiny = tmp_path / 'pixel.png'
    Image.new('RGB', (1, 1)).save(tiny)
    out = tmp_path / 'out'
    assert infer.main([SEG_CONFIG, str(data['seg_ckpt']), str(tiny), '--out-dir', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('infer.py: error: ') and f'{tiny} is 1x1 pixels' in err
    assert 'at least 32x32' in err and not out.exists()


def test_benchmark_synthetic_when_the_dataset_is_missing(data, tmp_path):
    """As a user runs it (a fresh process)."""
    result_file = tmp_path / 'speed.json'
    options = tiny_cfg_options(CLS_CONFIG, tmp_path / 'no_imagenet', img_size=32)
    run = run_cli(  # this checkout's mmsola
        [sys.executable, 'tools/analysis/inference_speed.py', CLS_CONFIG, str(data['cls_ckpt']),
         '--device', 'cpu', '--threads', '1', '--warmup', '1', '--repeats', '2',
         '--batch-size', '2', '--shape', '32', '48', '--out', str(result_file),
         '--cfg-options', *options])
    assert run.returncode == 0, run.stderr[-2000:]
    printed = run.stdout
    result = json.loads(result_file.read_text())
    assert result['synthetic'] and 'test dataset not found' in result['inputs']
    assert 'no_imagenet' in result['inputs'] and 'synthetic 32x48' in printed
    (rank0, ) = result['per_rank']
    assert rank0['repeats'] == 2 and rank0['median_s'] > 0
    assert result['images_per_s'] == pytest.approx(2 / rank0['median_s'])
    assert f"images/s: {result['images_per_s']:.2f}" in printed
    assert result['environment']['torch_threads'] == 1


def test_benchmark_on_the_dataset(data):
    result = measure_inference_speed(SEG_CONFIG, str(data['seg_ckpt']), device='cpu', warmup=0,
                           repeats=2, cfg_options=_parsed(data['seg_options']))
    assert not result['synthetic']
    assert 'the test dataset (ADE20KDataset, 2 batches' in result['inputs']
    assert result['batch_size'] == 1  # the config's test batch size
    assert result['images_per_s'] == pytest.approx(1 / result['per_rank'][0]['median_s'])
    assert f"weights: {data['seg_ckpt']}" in report(result)


def test_benchmark_bad_checkpoint(data):
    with pytest.raises(CheckpointError, match='does not fit the model'):
        measure_inference_speed(SEG_CONFIG, str(data['cls_ckpt']), synthetic=True)
