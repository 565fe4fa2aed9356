"""The tiny datasets load through the toolkits' own dataset classes and metrics."""
import numpy as np
import pytest

from tests.support.configs import metafiles_read_once
from tests.support.fake_data import (
    COCO_CLASSES,
    COCO_IDS,
    COCO_USED_IDS,
    IMAGENET_WNIDS,
    write_ade20k,
    write_coco,
    write_imagenet,
)


@pytest.fixture(scope='module', autouse=True)
def _read_toolkit_metafiles_once():
    with metafiles_read_once():
        yield


def test_coco_layout_loads_in_mmdet_and_scores_its_own_ground_truth_as_perfect(tmp_path):
    pytest.importorskip('mmdet')
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    from mmdet.utils import register_all_modules
    register_all_modules()

    root = write_coco(tmp_path / 'coco', num_train=3, num_val=2, size=(48, 80))
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    train = CocoDataset(data_root=str(root), ann_file='annotations/instances_train2017.json',
                        data_prefix=dict(img='train2017/'), pipeline=pipeline)
    val = CocoDataset(data_root=str(root), ann_file='annotations/instances_val2017.json',
                      data_prefix=dict(img='val2017/'), pipeline=pipeline, test_mode=True)
    assert (len(train), len(val)) == (3, 2)
    assert train.metainfo['classes'] == COCO_CLASSES
    used_labels = {COCO_IDS.index(i) for i in COCO_USED_IDS}
    for sample in [train[0], val[1]]:
        assert sample['img'].shape == (48, 80, 3)
        assert len(sample['gt_bboxes']) >= 1
        assert set(sample['gt_bboxes_labels'].tolist()) <= used_labels
        masks = sample['gt_masks'].to_ndarray()
        assert masks.shape[1:] == (48, 80) and masks.any(axis=(1, 2)).all()
        # the polygon mask fills its box
        box = sample['gt_bboxes'].tensor[0].int().tolist()
        assert masks[0][box[1]:box[3], box[0]:box[2]].mean() > 0.9

    # The ground truth itself, as predictions, scores a perfect bbox and segm mAP.
    metric = CocoMetric(ann_file=str(root / 'annotations/instances_val2017.json'),
                        metric=['bbox', 'segm'])
    metric.dataset_meta = val.metainfo
    import torch
    for i in range(len(val)):
        info = val.get_data_info(i)
        instances = [x for x in info['instances'] if not x['ignore_flag']]
        sample = val[i]
        masks = torch.from_numpy(sample['gt_masks'].to_ndarray()).bool()
        pred = dict(bboxes=torch.tensor([x['bbox'] for x in instances]),
                    labels=torch.tensor([x['bbox_label'] for x in instances]),
                    scores=torch.ones(len(instances)), masks=masks)
        metric.process({}, [dict(img_id=info['img_id'], ori_shape=(48, 80), pred_instances=pred)])
    results = metric.evaluate(len(val))
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/segm_mAP'] == pytest.approx(1.0)


def test_ade20k_layout_loads_in_mmseg_with_zero_as_ignore(tmp_path):
    pytest.importorskip('mmseg')
    from mmseg.datasets import ADE20KDataset
    from mmseg.utils import register_all_modules
    register_all_modules()

    root = write_ade20k(tmp_path / 'ade', num_train=3, num_val=2, size=(40, 56))
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations')]  # the dataset's reduce_zero_label=True
    for split, count in (('training', 3), ('validation', 2)):
        ds = ADE20KDataset(data_root=str(root),
                           data_prefix=dict(img_path=f'images/{split}',
                                            seg_map_path=f'annotations/{split}'),
                           pipeline=pipeline)
        assert len(ds) == count
        sample = ds[0]
        assert sample['img'].shape == (40, 56, 3)
        labels = np.unique(sample['gt_seg_map'])
        assert 255 in labels  # 0 ("other") became the ignore index
        objects = labels[labels != 255]
        assert len(objects) >= 1 and objects.max() < 150


def test_imagenet_layout_loads_in_mmpretrain_by_split(tmp_path):
    pytest.importorskip('mmpretrain')
    from mmpretrain.datasets import ImageNet

    root = write_imagenet(tmp_path / 'imagenet', num_classes=3, per_class=2, size=(32, 48),
                          val_per_class=2)
    pipeline = [dict(type='LoadImageFromFile')]
    train = ImageNet(data_root=str(root), split='train', pipeline=pipeline)
    val = ImageNet(data_root=str(root), split='val', pipeline=pipeline)
    assert (len(train), len(val)) == (6, 6)
    assert len(train.CLASSES) == 1000
    assert sorted(train.get_gt_labels().tolist()) == [0, 0, 1, 1, 2, 2]
    assert sorted(val.get_gt_labels().tolist()) == [0, 0, 1, 1, 2, 2]
    sample = train[0]
    assert sample['img'].shape == (32, 48, 3)
    assert sample['img_path'].endswith(f'train/{IMAGENET_WNIDS[0]}/{IMAGENET_WNIDS[0]}_1.JPEG')


def test_writers_reject_impossible_sizes(tmp_path):
    with pytest.raises(ValueError, match='size must be'):
        write_coco(tmp_path, size=(8, 64))
    with pytest.raises(ValueError, match='num_classes'):
        write_imagenet(tmp_path, num_classes=0)


def _merged(config, options):
    """``config`` with ``options`` applied the way the tools' ``--cfg-options`` apply them."""
    import argparse

    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


def _sizes(pipeline):
    return {t['type']: t.get('scale', t.get('scales', t.get('crop_size'))) for t in pipeline
            if any(k in t for k in ('scale', 'scales', 'crop_size'))}


def test_tiny_cfg_options_shrink_the_detection_configs(tmp_path):
    pytest.importorskip('mmdet')
    from tests.support.fake_data import tiny_cfg_options

    root, work = tmp_path / 'coco', tmp_path / 'work'
    for name, train_sizes in (
            ('mask_rcnn_sola_t_fpn_1x_coco.py', {'Resize': (107, 64)}),
            ('mask_rcnn_sola_t_fpn_3x_coco.py',  # 480..800 -> 38..64, one factor
             {'RandomChoiceResize': [(107, s) for s in (38, 41, 44, 46, 49, 51, 54, 56, 59,
                                                         61, 64)]})):
        options = tiny_cfg_options(f'configs/{name}', root, work_dir=work, iters=3, epochs=2)
        cfg = _merged(f'configs/{name}', options)
        assert _sizes(cfg.train_dataloader.dataset.pipeline) == train_sizes
        assert _sizes(cfg.test_dataloader.dataset.pipeline) == {'Resize': (107, 64)}
        for split in ('train', 'val', 'test'):
            loader = cfg[f'{split}_dataloader']
            assert loader.dataset.data_root == str(root)
            assert (loader.num_workers, loader.persistent_workers) == (0, False)
        assert cfg.val_evaluator.ann_file == str(root / 'annotations/instances_val2017.json')
        assert cfg.train_dataloader.batch_size == 2
        assert cfg.train_dataloader.dataset.indices == 6  # 3 iterations of 2 images per epoch
        assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (2, 1)
        assert cfg.default_hooks.checkpoint.interval == 1
        assert cfg.default_hooks.logger.interval == 1
        assert cfg.model.backbone.init_cfg is None and cfg.work_dir == str(work)


def test_tiny_cfg_options_shrink_the_segmentation_and_classification_configs(tmp_path):
    pytest.importorskip('mmseg')
    pytest.importorskip('mmpretrain')
    from tests.support.fake_data import tiny_cfg_options

    cfg = _merged('configs/upernet_sola_t_ade20k.py',
                  tiny_cfg_options('configs/upernet_sola_t_ade20k.py', tmp_path, iters=3,
                                   epochs=2))
    assert _sizes(cfg.train_dataloader.dataset.pipeline) == {'RandomResize': (256, 64),
                                                             'RandomCrop': (64, 64)}
    assert cfg.model.data_preprocessor.size == (64, 64)
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (6, 3)
    assert cfg.default_hooks.checkpoint.interval == 3
    assert 'indices' not in cfg.train_dataloader.dataset

    cfg = _merged('configs/sola_t_in1k.py',
                  tiny_cfg_options('configs/sola_t_in1k.py', tmp_path, img_size=96))
    assert _sizes(cfg.train_dataloader.dataset.pipeline) == {'RandomResizedCrop': 96}
    assert _sizes(cfg.val_dataloader.dataset.pipeline) == {'ResizeEdge': 96, 'CenterCrop': 84}
    # the cosine phase starts at epoch 20 of 300; in a 1-epoch run it needs its own end
    assert cfg.param_scheduler[1].begin == 20 and cfg.param_scheduler[1].end == 21
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.randomness.seed == 0


def test_tiny_cfg_options_refuse_what_cfg_options_cannot_carry(tmp_path):
    pytest.importorskip('mmseg')
    from tests.support.fake_data import tiny_cfg_options
    with pytest.raises(ValueError, match='commas or spaces'):
        tiny_cfg_options('configs/upernet_sola_t_ade20k.py', tmp_path / 'my data')
    with pytest.raises(ValueError, match='iters'):
        tiny_cfg_options('configs/upernet_sola_t_ade20k.py', tmp_path, iters=0)
