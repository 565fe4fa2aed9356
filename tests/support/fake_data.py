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

:func:`tiny_cfg_dict` / :func:`tiny_cfg_options` give the overrides (``--cfg-options``) that
shrink any of the shipped configs (or a toolkit's own) onto such a dataset: tiny images, a
couple of iterations, no worker processes, no pretrained weights.
"""
import json
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

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

    ``train/<wnid>/<wnid>_<k>.JPEG`` (``per_class`` per class) with ``meta/train.txt``, and
    a flat ``val/ILSVRC2012_val_<k>.JPEG`` (``val_per_class`` per class) with
    ``meta/val.txt``; lines are ``relative/path label``, labels 0..num_classes-1 in
    ImageNet's class order.

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


# ------------------------------------------------------------------ shrinking a config onto them
# Pipeline fields that hold an image size (int, (w, h) / (h, w), or a list of those).
_SIZE_KEYS = ('scale', 'scales', 'crop_size', 'img_scale')
# Fields of dataset wrappers (e.g. RepeatDataset, the real dataset under ``dataset``) that
# repeat the data; a tiny run sets them to 1.
_REPEAT_KEYS = ('times', )


def _short_side(value) -> Optional[float]:
    """The short side of a pipeline size value: an int, the smaller of a pair, the largest
    short side of a list of pairs (multi-scale); None if it holds no positive size."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            sides = [float(v) for v in value if v > 0]
            return min(sides) if sides else None
        sides = [s for s in map(_short_side, value) if s is not None]
        return max(sides) if sides else None
    return None


def _scaled(value, factor: float):
    """``value`` (int | pair | list of pairs) with every positive size times ``factor``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(int(round(value * factor)), 8) if value > 0 else value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, factor) for v in value)
    return value


def _size_fields(transforms, prefix: str) -> Iterator[Tuple[str, object]]:
    """``(dotted key, value)`` of every size field in a pipeline, nested ``transforms`` too."""
    for i, t in enumerate(transforms or []):
        key = f'{prefix}.{i}'
        if isinstance(t, (list, tuple)):  # RandomChoice / TestTimeAug: lists of pipelines
            yield from _size_fields(t, key)
            continue
        if not isinstance(t, dict):
            continue
        for name in _SIZE_KEYS:
            if name in t and _short_side(t[name]) is not None:
                yield f'{key}.{name}', t[name]
        if 'transforms' in t:
            yield from _size_fields(t['transforms'], f'{key}.transforms')


def _shrink_pipeline(pipeline, prefix: str, img_size: int, out: Dict) -> Optional[float]:
    """Put the shrunk size fields of ``pipeline`` into ``out``; the factor used (or None).

    One factor per pipeline keeps its sizes consistent (resize before crop, multi-scale
    lists): the largest short side in the pipeline becomes ``img_size``.
    """
    fields = list(_size_fields(pipeline, prefix))
    if not fields:
        return None
    factor = img_size / max(_short_side(v) for _, v in fields)
    for key, value in fields:
        out[key] = _scaled(value, factor)
    return factor


def _inner_dataset(dataset: dict, prefix: str, out: Dict) -> Tuple[dict, str]:
    """Unwrap RepeatDataset-like wrappers (their ``times`` set to 1); the real dataset."""
    while isinstance(dataset.get('dataset'), dict):
        for key in _REPEAT_KEYS:
            if key in dataset:
                out[f'{prefix}.{key}'] = 1
        dataset, prefix = dataset['dataset'], f'{prefix}.dataset'
    return dataset, prefix


def tiny_cfg_dict(config_path: PathLike, data_root: PathLike,
                  work_dir: Optional[PathLike] = None, iters: int = 2, epochs: int = 1,
                  img_size: int = 64, batch_size: int = 2, seed: int = 0) -> Dict[str, object]:
    """The dotted-key overrides that shrink a config onto a tiny dataset at ``data_root``.

    The run becomes ``epochs`` rounds of ``iters`` training iterations (per process), with a
    validation pass and a checkpoint after each round:

    - iteration-based loops: ``max_iters = iters * epochs``, ``val_interval`` and the
      checkpoint interval ``= iters``;
    - epoch-based loops: ``max_epochs = epochs``, validation and checkpoints every epoch, the
      training set cut to its first ``iters * batch_size`` images (``indices``; write at
      least that many, and with N processes each takes 1/N of them) and dataset wrappers'
      ``times`` set to 1;
    - LR schedulers without an ``end`` that would begin after the shortened run get
      ``end = begin + 1`` (mmengine refuses ``end <= begin``).

    Every pipeline's size fields (``scale``, ``scales``, ``crop_size``, ``img_scale``) shrink
    by one factor per pipeline so that its largest short side becomes ``img_size``
    (the segmentor's ``data_preprocessor.size`` and sliding-window ``test_cfg`` follow the
    training and test factors). Train batch ``batch_size``, val/test batch 1, no worker
    processes, log every iteration, a fixed ``seed``, the data root of every dataloader and
    evaluator ``ann_file`` moved to ``data_root``, and no pretrained weights
    (a ``Pretrained`` backbone ``init_cfg`` and ``load_from`` become None).

    Args:
        config_path: the config to shrink (loaded with mmengine, so its toolkit must be
            installed).
        data_root: where :func:`write_coco` / :func:`write_ade20k` / :func:`write_imagenet`
            wrote the data the config expects.
        work_dir: if given, the run's ``work_dir``.

    Returns:
        ``{dotted key: value}``, for ``Config.merge_from_dict``.
    """
    from mmengine.config import Config

    if iters < 1 or epochs < 1 or img_size < 16 or batch_size < 1:
        raise ValueError(f'iters, epochs, batch_size must be >= 1 and img_size >= 16, got '
                         f'{iters}, {epochs}, {batch_size}, {img_size}')
    cfg = Config.fromfile(str(config_path))
    root = str(data_root)
    out: Dict[str, object] = {}
    if work_dir is not None:
        out['work_dir'] = str(work_dir)
    out['randomness.seed'] = seed
    if cfg.get('load_from') is not None:
        out['load_from'] = None
    backbone_init = cfg.model.get('backbone', {}).get('init_cfg')
    if isinstance(backbone_init, dict) and backbone_init.get('type') == 'Pretrained':
        out['model.backbone.init_cfg'] = None
    if 'data_root' in cfg:
        out['data_root'] = root

    factors = {}
    old_roots = set()
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        key = f'{split}_dataloader'
        out[f'{key}.batch_size'] = batch_size if split == 'train' else 1
        out[f'{key}.num_workers'] = 0
        out[f'{key}.persistent_workers'] = False
        dataset, prefix = _inner_dataset(loader['dataset'], f'{key}.dataset', out)
        if dataset.get('data_root') is not None:
            old_roots.add(str(dataset['data_root']).rstrip('/'))
        out[f'{prefix}.data_root'] = root
        for level, level_prefix in ((loader['dataset'], f'{key}.dataset'), (dataset, prefix)):
            if 'pipeline' in level:
                factor = _shrink_pipeline(level['pipeline'], f'{level_prefix}.pipeline',
                                          img_size, out)
                factors.setdefault(split, factor)
        if split == 'train' and 'max_iters' not in cfg.train_cfg:
            out[f'{prefix}.indices'] = iters * batch_size

    _shrink_model(cfg, factors, out)
    _relocate_evaluators(cfg, old_roots, root, out)
    _fit_schedulers(cfg, 'max_iters' not in cfg.train_cfg, iters, epochs, out)

    if 'max_iters' in cfg.train_cfg:
        out['train_cfg.max_iters'] = iters * epochs
        interval = iters
    else:
        out['train_cfg.max_epochs'] = epochs
        interval = 1
    out['train_cfg.val_interval'] = interval
    hooks = cfg.get('default_hooks', {})
    if 'checkpoint' in hooks:
        out['default_hooks.checkpoint.interval'] = interval
    if 'logger' in hooks:
        out['default_hooks.logger.interval'] = 1
    return out


def _shrink_model(cfg, factors: Dict[str, Optional[float]], out: Dict) -> None:
    """Scale the model's own image sizes: the segmentor's padding size and sliding window."""
    model = cfg.model
    preprocessor = model.get('data_preprocessor') or {}
    if factors.get('train') and _short_side(preprocessor.get('size')) is not None:
        out['model.data_preprocessor.size'] = _scaled(preprocessor['size'], factors['train'])
    test_cfg = model.get('test_cfg') or {}
    test_factor = factors.get('test') or factors.get('val')
    if test_factor and test_cfg.get('mode') == 'slide':
        for name in ('crop_size', 'stride'):
            out[f'model.test_cfg.{name}'] = _scaled(test_cfg[name], test_factor)


def _fit_schedulers(cfg, epoch_based: bool, iters: int, epochs: int, out: Dict) -> None:
    """Give an explicit ``end`` to schedulers that start after the shortened run and had none
    (mmengine would end them at the run's end, before their begin, and refuse to build)."""
    schedulers = cfg.get('param_scheduler')
    many = isinstance(schedulers, (list, tuple))
    for i, scheduler in enumerate(schedulers if many else [schedulers] if schedulers else []):
        by_epoch = scheduler.get('by_epoch', True) and epoch_based
        length = epochs if by_epoch else iters * epochs
        if 'end' not in scheduler and scheduler.get('begin', 0) >= length:
            key = f'param_scheduler.{i}.end' if many else 'param_scheduler.end'
            out[key] = scheduler['begin'] + 1


def _relocate_evaluators(cfg, old_roots, root: str, out: Dict) -> None:
    """Point evaluators' ``ann_file`` under an old data root to the same file under ``root``."""
    for split in ('val', 'test'):
        evaluator = cfg.get(f'{split}_evaluator')
        many = isinstance(evaluator, (list, tuple))
        for i, metric in enumerate(evaluator if many else [evaluator]):
            ann_file = (metric or {}).get('ann_file')
            if not ann_file:
                continue
            key = f'{split}_evaluator.{i}.ann_file' if many else f'{split}_evaluator.ann_file'
            for old in old_roots:
                if str(ann_file).startswith(old + '/'):
                    out[key] = str(Path(root) / str(ann_file)[len(old) + 1:])
                    break
            else:
                raise ValueError(f'{key}={ann_file!r} is not under the config\'s data root '
                                 f'{sorted(old_roots)}; tiny_cfg_dict cannot relocate it')


def _format(value) -> str:
    """A value as ``--cfg-options`` (mmengine's DictAction) parses it back."""
    if isinstance(value, tuple):
        return '(' + ','.join(_format(v) for v in value) + (',)' if len(value) == 1 else ')')
    if isinstance(value, list):
        return '[' + ','.join(_format(v) for v in value) + ']'
    if isinstance(value, (str, Path)) and (',' in str(value) or ' ' in str(value)):
        raise ValueError(f'{value!r}: --cfg-options cannot carry commas or spaces in a value')
    return str(value)


def tiny_cfg_options(config_path: PathLike, data_root: PathLike,
                     work_dir: Optional[PathLike] = None, iters: int = 2, epochs: int = 1,
                     img_size: int = 64, batch_size: int = 2, seed: int = 0) -> List[str]:
    """:func:`tiny_cfg_dict` as ``KEY=VALUE`` strings for ``--cfg-options`` (one argv each)."""
    overrides = tiny_cfg_dict(config_path, data_root, work_dir=work_dir, iters=iters,
                              epochs=epochs, img_size=img_size, batch_size=batch_size,
                              seed=seed)
    return [f'{key}={_format(value)}' for key, value in overrides.items()]
