"""The tiny datasets load through the toolkits' own dataset classes and metrics."""
import numpy as np
import pytest

from tests.tools.fake_data import (COCO_CLASSES, COCO_IDS, COCO_USED_IDS, IMAGENET_WNIDS,
                                   write_ade20k, write_coco, write_imagenet)


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
