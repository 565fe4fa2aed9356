"""Score a trained demo model on the validation split with mmseg's own ``IoUMetric``.

Also scores the trivial predictor (every pixel the most frequent training class) on the same
images through the same metric, and keeps a few predictions for the picture grid.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from mmsola.errors import InputNotFoundError


def class_pixel_counts(dataset) -> np.ndarray:
    """Pixels per class over the ``gt_seg_map`` of every item of an mmseg dataset whose
    pipeline loads annotations only; ignored pixels (255) are not counted. (num_classes,)."""
    num_classes = len(dataset.metainfo['classes'])
    counts = np.zeros(num_classes, np.int64)
    for i in range(len(dataset)):
        seg = dataset[i]['gt_seg_map']
        counts += np.bincount(seg[seg != 255].ravel(), minlength=num_classes)[:num_classes]
    return counts


def _summarise(metric, results: List[tuple]) -> Dict:
    """mmseg's summary (percent) plus per-class IoU and accuracy (percent, None if absent)."""
    summary = metric.compute_metrics(results)
    totals = [sum(r[i] for r in results) for i in range(4)]
    per_class = metric.total_area_to_metrics(*totals, ['mIoU'])
    names = metric.dataset_meta['classes']

    def pct(values):
        return {n: (None if np.isnan(v) else round(float(v) * 100, 2))
                for n, v in zip(names, values)}

    overall = {k: round(float(summary[k]), 2) for k in ('mIoU', 'aAcc', 'mAcc')}
    return dict(**overall, IoU=pct(per_class['IoU']), Acc=pct(per_class['Acc']))


def evaluate_segmentor(model, cfg, num_keep: int = 6,
                       batch_size: int = 10) -> Tuple[Dict, Dict, List[Dict]]:
    """Run ``model`` over ``cfg.val_dataloader``'s dataset and score it.

    Args:
        model: an mmseg segmentor in eval mode (e.g. from ``mmsola.checks.build_model`` and a
            loaded checkpoint).
        cfg: its config: the val dataset is scored (mmseg's IoUMetric, ignore index 255),
            the train dataset gives the most frequent class for the trivial predictor.
        num_keep: how many (image path, ground truth, prediction) to return for pictures,
            picked to show as many classes as they can (``pick_samples``).

    Returns:
        ``(model_scores, trivial_scores, kept)``; scores are dicts with mIoU, aAcc, mAcc
        (percent) and per-class ``IoU`` / ``Acc``; the model's add ``confusion`` (pixel
        counts, row = truth, column = prediction), the trivial ones ``class`` (its name);
        ``kept`` holds dicts with ``img_path``, ``gt`` and ``pred`` (H, W) uint8 arrays (255 =
        ignored).
    """
    from mmengine.dataset import pseudo_collate
    from mmseg.evaluation import IoUMetric
    from mmseg.registry import DATASETS

    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    train_cfg = cfg.train_dataloader.dataset.copy()
    train_cfg.pipeline = [dict(type='LoadAnnotations')]  # its reduce_zero_label: the dataset's
    frequent = int(np.argmax(class_pixel_counts(DATASETS.build(train_cfg))))

    metric, trivial = IoUMetric(iou_metrics=['mIoU']), IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = trivial.dataset_meta = val_set.metainfo
    num_classes = len(val_set.metainfo['classes'])
    kept = []  # every image's maps, (H, W) uint8 each: small for the demo's val split
    with torch.no_grad():
        for start in range(0, len(val_set), batch_size):
            batch = pseudo_collate([val_set[i] for i in
                                    range(start, min(start + batch_size, len(val_set)))])
            samples = model.test_step(batch)
            metric.process(batch, [s.to_dict() for s in samples])
            for s in samples:
                gt = s.gt_sem_seg.data.squeeze(0)
                trivial.results.append(trivial.intersect_and_union(
                    torch.full_like(gt, frequent), gt, num_classes, trivial.ignore_index))
                kept.append(dict(img_path=s.img_path, gt=gt.numpy().astype(np.uint8),
                                 pred=s.pred_sem_seg.data.squeeze(0).numpy().astype(np.uint8)))
    scores = _summarise(metric, metric.results)
    scores['confusion'] = confusion_matrix(kept, num_classes).tolist()
    baseline = _summarise(trivial, trivial.results)
    baseline['class'] = val_set.metainfo['classes'][frequent]
    return scores, baseline, pick_samples(kept, num_keep)


def confusion_matrix(samples: List[Dict], num_classes: int) -> np.ndarray:
    """Pixel counts (num_classes, num_classes): row = ground truth, column = prediction;
    ignored pixels (255) left out."""
    counts = np.zeros(num_classes * num_classes, np.int64)
    for sample in samples:
        gt, pred = sample['gt'].astype(np.int64), sample['pred'].astype(np.int64)
        valid = gt != 255
        counts += np.bincount(gt[valid] * num_classes + pred[valid],
                              minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def pick_samples(samples: List[Dict], num: int) -> List[Dict]:
    """``num`` samples, in order, first those that each add a ground-truth class not yet
    shown (so the picture covers every class it can), then the next ones."""
    seen, picked = set(), []
    for i, sample in enumerate(samples):
        new = set(np.unique(sample['gt']).tolist()) - seen - {255}
        if new and len(picked) < num:
            seen |= new
            picked.append(i)
    rest = [i for i in range(len(samples)) if i not in picked]
    return [samples[i] for i in sorted(picked + rest[:num - len(picked)])]


def find_checkpoint(work_dir: Path) -> Path:
    """The checkpoint mmengine's CheckpointHook saved last in ``work_dir``."""
    pointer = Path(work_dir) / 'last_checkpoint'
    if not pointer.is_file():
        raise InputNotFoundError(f'no last_checkpoint in {work_dir}: did training finish?')
    path = Path(pointer.read_text().strip())
    return path if path.is_absolute() or path.exists() else Path(work_dir) / path.name
