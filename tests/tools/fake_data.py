"""Tiny datasets in the real on-disk layouts of COCO, ADE20K and ImageNet, for CPU tests.

Each writer draws a few images with coloured rectangles (the objects / regions) on noise and
writes the matching annotations exactly as the toolkits' own dataset classes read them:

- :func:`write_coco`: ``annotations/instances_{train,val}2017.json`` (all 80 COCO categories
  with their real ids, a couple of them used; boxes, areas and polygon masks) and
  ``{train,val}2017/*.jpg``; what mmdet's ``CocoDataset`` and ``CocoMetric`` read.
- :func:`write_ade20k`: ``images/{training,validation}/*.jpg`` and
  ``annotations/{training,validation}/*.png`` (uint8 labels 0..150, 0 = "other", ignored
  through ``reduce_zero_label``); what mmseg's ``ADE20KDataset`` reads.
- :func:`write_imagenet`: ``train/<wnid>/*.JPEG``, ``val/*.JPEG`` and ``meta/{train,val}.txt``
  (``relative/path label`` lines); what mmpretrain's ``ImageNet(split=...)`` reads.

Only numpy and PIL are needed. All output is deterministic (seeded).
"""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
from PIL import Image

PathLike = Union[str, Path]

# The 80 COCO categories with their official (non-contiguous) ids, in mmdet's class order.
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
    'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
    'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
    'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
    'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier',
    'toothbrush')
COCO_IDS = (tuple(range(1, 12)) + tuple(range(13, 26)) + (27, 28) + tuple(range(31, 45))
            + tuple(range(46, 66)) + (67, 70) + tuple(range(72, 83)) + tuple(range(84, 91)))
# The categories the fake annotations use: person (id 1) and car (id 3).
COCO_USED_IDS = (1, 3)

# The first ImageNet-1K class folders (label 0, 1, 2, ... in mmpretrain's class order).
IMAGENET_WNIDS = ('n01440764', 'n01443537', 'n01484850', 'n01491361', 'n01494475',
                  'n01496331', 'n01498041', 'n01514668', 'n01514859', 'n01518878')

ADE20K_NUM_CLASSES = 150

Size = Tuple[int, int]


def _check_size(size: Sequence[int]) -> Size:
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f'size must be (height, width) with both >= 16, got {size!r}')
    return int(size[0]), int(size[1])


def _random_boxes(rng: np.random.Generator, size: Size, count: int) -> List[List[float]]:
    """``count`` boxes ``[x, y, w, h]`` (COCO order, pixels), each at least a quarter of the
    shorter side, inside an image of ``size = (H, W)``."""
    h, w = size
    side = min(h, w)
    boxes = []
    for _ in range(count):
        bw = int(rng.integers(side // 4, side // 2 + 1))
        bh = int(rng.integers(side // 4, side // 2 + 1))
        x = int(rng.integers(0, w - bw + 1))
        y = int(rng.integers(0, h - bh + 1))
        boxes.append([float(x), float(y), float(bw), float(bh)])
    return boxes


def _noise_image(rng: np.random.Generator, size: Size) -> np.ndarray:
    """``(H, W, 3)`` uint8 low-contrast noise as a background."""
    return rng.integers(60, 120, size=(*size, 3), dtype=np.uint8)


def _paint(image: np.ndarray, box: Sequence[float], colour: Sequence[int]) -> None:
    x, y, bw, bh = (int(v) for v in box)
    image[y:y + bh, x:x + bw] = colour


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def write_coco(root: PathLike, num_train: int = 4, num_val: int = 2,
               size: Sequence[int] = (64, 64), seed: int = 0) -> Path:
    """Write a COCO-2017-layout instance-segmentation dataset under ``root``.

    Every image ``(H, W) = size`` holds one or two rectangles labelled ``person`` or ``car``;
    each annotation has its ``bbox`` ``[x, y, w, h]``, ``area``, ``iscrowd=0`` and a one-polygon
    ``segmentation`` tracing the rectangle.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    categories = [dict(id=i, name=n, supercategory='none')
                  for i, n in zip(COCO_IDS, COCO_CLASSES)]
    colours = {1: (220, 40, 40), 3: (40, 40, 220)}
    image_id = ann_id = 0
    for split, count in (('train', num_train), ('val', num_val)):
        images, annotations = [], []
        for _ in range(count):
            image_id += 1
            file_name = f'{image_id:012d}.jpg'
            pixels = _noise_image(rng, size)
            for box in _random_boxes(rng, size, int(rng.integers(1, 3))):
                ann_id += 1
                cat = int(rng.choice(COCO_USED_IDS))
                _paint(pixels, box, colours[cat])
                x, y, bw, bh = box
                annotations.append(dict(
                    id=ann_id, image_id=image_id, category_id=cat, bbox=box, area=bw * bh,
                    iscrowd=0,
                    segmentation=[[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]))
            _save_jpeg(pixels, root / f'{split}2017' / file_name)
            images.append(dict(id=image_id, file_name=file_name, height=size[0],
                               width=size[1]))
        ann_dir = root / 'annotations'
        ann_dir.mkdir(parents=True, exist_ok=True)
        content = dict(info=dict(description='mmsola tiny COCO-layout test data'),
                       licenses=[], images=images, annotations=annotations,
                       categories=categories)
        (ann_dir / f'instances_{split}2017.json').write_text(json.dumps(content))
    return root


def write_ade20k(root: PathLike, num_train: int = 4, num_val: int = 2,
                 size: Sequence[int] = (64, 64), seed: int = 0) -> Path:
    """Write an ADEChallengeData2016-layout semantic-segmentation dataset under ``root``.

    Each ``(H, W) = size`` label map is uint8: 0 ("other", ignored by ``reduce_zero_label``)
    with two or three rectangles of classes in 1..150 painted in, the image shows the same
    rectangles in a per-class colour.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    index = 0
    for split, prefix, count in (('training', 'train', num_train),
                                 ('validation', 'val', num_val)):
        for _ in range(count):
            index += 1
            stem = f'ADE_{prefix}_{index:08d}'
            pixels = _noise_image(rng, size)
            label = np.zeros(size, dtype=np.uint8)
            for box in _random_boxes(rng, size, int(rng.integers(2, 4))):
                cls = int(rng.integers(1, ADE20K_NUM_CLASSES + 1))
                _paint(pixels, box, ((cls * 37) % 256, (cls * 91) % 256, (cls * 53) % 256))
                _paint(label, box, cls)
            _save_jpeg(pixels, root / 'images' / split / f'{stem}.jpg')
            seg_path = root / 'annotations' / split / f'{stem}.png'
            seg_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(label).save(seg_path)
    return root


def write_imagenet(root: PathLike, num_classes: int = 3, per_class: int = 2,
                   size: Sequence[int] = (64, 64), val_per_class: int = 1,
                   seed: int = 0) -> Path:
    """Write an ImageNet-1K-layout classification dataset under ``root``.

    ``train/<wnid>/<wnid>_<k>.JPEG`` (``per_class`` per class) with ``meta/train.txt``, and a
    flat ``val/ILSVRC2012_val_<k>.JPEG`` (``val_per_class`` per class) with ``meta/val.txt``; lines are
    ``relative/path label``, labels 0..num_classes-1 in ImageNet's class order.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    size = _check_size(size)
    if not 1 <= num_classes <= len(IMAGENET_WNIDS):
        raise ValueError(f'num_classes must be in 1..{len(IMAGENET_WNIDS)}, got {num_classes}')
    rng = np.random.default_rng(seed)
    lines: Dict[str, List[str]] = dict(train=[], val=[])

    def image_of(label: int) -> np.ndarray:
        pixels = _noise_image(rng, size)
        colour = [0, 0, 0]
        colour[label % 3] = 230
        for box in _random_boxes(rng, size, 1):
            _paint(pixels, box, colour)
        return pixels

    val_index = 0
    for label, wnid in enumerate(IMAGENET_WNIDS[:num_classes]):
        for k in range(per_class):
            rel = f'{wnid}/{wnid}_{k + 1}.JPEG'
            _save_jpeg(image_of(label), root / 'train' / rel)
            lines['train'].append(f'{rel} {label}')
        for _ in range(val_per_class):
            val_index += 1
            rel = f'ILSVRC2012_val_{val_index:08d}.JPEG'
            _save_jpeg(image_of(label), root / 'val' / rel)
            lines['val'].append(f'{rel} {label}')
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    for split, split_lines in lines.items():
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(split_lines) + '\n')
    return root
