"""Checks that ``tools/train.py`` and ``tools/test.py`` run before a Runner is built.

- :func:`check_datasets`: every dataset (and evaluator annotation file) a config reads is
  where the config looks; otherwise :class:`DatasetNotFoundError` names the missing path, the
  layout the toolkit's dataset class expects and how to get the data.
- :func:`check_checkpoint`: a checkpoint exists, can be read and fits the config's model
  (same parameter names and shapes); otherwise :class:`CheckpointError` names a few missing,
  unexpected and differently shaped keys. The model's names and shapes come from a skeleton
  built on the ``meta`` device (no weights are allocated or initialised).
- :func:`check_pretrained`: the ``Pretrained`` checkpoints named in ``init_cfg`` exist and
  can be read.
- :func:`resolve_resume`: the checkpoint ``--resume`` without a value continues from.
- :func:`adopt_resumed_seed`: a resumed run without a configured seed takes the seed of the
  run it continues.

Each error's message says what was wrong and how to fix it; the tools print it and exit.
"""
import logging
import os
import os.path as osp
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from ..utils.checkpoint_file import CheckpointError, is_remote, read_checkpoint
from .config import init_toolkit

# Dataset wrappers (RepeatDataset, ClassBalancedDataset, ...) keep the real one here.
_WRAPPED = ('dataset', 'datasets')
# mmengine's Runner strips this prefix (a DDP-wrapped model's) before loading.
_MODULE_PREFIX = re.compile(r'^module\.')
_EXAMPLES = 5

# Dataset type -> (layout under its data root, how to get it).
_LAYOUTS: Dict[str, Tuple[str, str]] = {
    'CocoDataset': (
        'annotations/instances_train2017.json, annotations/instances_val2017.json\n'
        'train2017/*.jpg\n'
        'val2017/*.jpg',
        'download the COCO 2017 train and val images and the 2017 train/val annotations from '
        'the official COCO site (cocodataset.org) and unzip them into {root}, or run '
        "mmdetection's `python tools/misc/download_dataset.py --dataset-name coco2017` "
        "(mmdetection's docs/en/user_guides/dataset_prepare.md)"),
    'ADE20KDataset': (
        'images/training/*.jpg       annotations/training/*.png\n'
        'images/validation/*.jpg     annotations/validation/*.png',
        'download ADEChallengeData2016.zip (the MIT Scene Parsing release of ADE20K) and '
        'unzip it so that its folder is {root}, as mmsegmentation\'s '
        'docs/en/user_guides/2_dataset_prepare.md describes'),
    'ImageNet': (
        'train/<wnid>/*.JPEG     (1000 class folders, e.g. train/n01440764/)\n'
        'val/*.JPEG with meta/val.txt ("ILSVRC2012_val_00000001.JPEG 65" lines), '
        'or val/<wnid>/*.JPEG',
        'download ILSVRC2012 (ImageNet-1K, registration at image-net.org), extract the '
        'training images into one folder per class and the validation images into val/, '
        "and add the meta/*.txt label lists as mmpretrain's "
        'docs/en/user_guides/dataset_prepare.md describes'),
}
_GENERIC_HOW = ("prepare it as the toolkit's dataset preparation guide describes "
                '(docs/en/user_guides/ in mmdetection, mmsegmentation or mmpretrain)')


class DatasetNotFoundError(FileNotFoundError):
    """A dataset the config reads is not where it looks; the message says how to fix it."""


# ----------------------------------------------------------------------------- datasets
def _unwrap(dataset: dict, key: str) -> Iterator[Tuple[dict, str]]:
    """The real datasets under wrappers, with their dotted config keys."""
    inner = dataset.get('dataset')
    if isinstance(inner, dict):
        yield from _unwrap(inner, f'{key}.dataset')
        return
    many = dataset.get('datasets')
    if isinstance(many, (list, tuple)):
        for i, d in enumerate(many):
            yield from _unwrap(d, f'{key}.datasets.{i}')
        return
    yield dataset, key


def _dataset_paths(dataset: dict, key: str) -> List[Tuple[str, str, bool]]:
    """``(path, config key, is a folder)`` of the files and folders a dataset reads."""
    root = str(dataset.get('data_root') or '')
    paths = []
    if root:
        paths.append((root, f'{key}.data_root', True))
    ann_file = dataset.get('ann_file') or ''
    if ann_file:
        paths.append((osp.join(root, ann_file), f'{key}.ann_file', False))
    elif dataset.get('split') and osp.isfile(osp.join(root, 'meta', f"{dataset['split']}.txt")):
        # mmpretrain's ImageNet(split=...) reads meta/<split>.txt when it is there
        paths.append((osp.join(root, 'meta', f"{dataset['split']}.txt"), f'{key}.split',
                      False))
    prefix = dataset.get('data_prefix', '')
    if not prefix and dataset.get('split'):  # mmpretrain's ImageNet(split=...)
        prefix = dataset['split']
    items = prefix.items() if isinstance(prefix, dict) else [('', prefix)]
    for name, value in items:
        if value:
            sub = f'.{name}' if name else ''
            paths.append((osp.join(root, str(value)), f'{key}.data_prefix{sub}', True))
    return paths


def _problem(path: str, folder: bool) -> Optional[str]:
    """Why ``path`` cannot be read, or None."""
    if not osp.exists(path):
        return 'does not exist'
    if folder and not osp.isdir(path):
        return 'is not a folder'
    if not folder and not osp.isfile(path):
        return 'is not a file'
    if not folder and osp.getsize(path) == 0:
        return 'is empty (0 bytes)'
    if folder:
        with os.scandir(path) as entries:
            if next(entries, None) is None:
                return 'is empty'
    return None


def _datasets_of(cfg: Config, split: str) -> Iterator[Tuple[dict, str]]:
    """``(real dataset, its config key)`` of the split's dataloader, if the run uses it."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not isinstance(loader.get('dataset'), dict):
        return
    for dataset, key in _unwrap(loader['dataset'], f'{split}_dataloader.dataset'):
        if dataset.get('backend_args') or is_remote(dataset.get('data_root') or ''):
            continue  # remote storage: mmengine's file backends decide
        yield dataset, key


def _evaluator_files(cfg: Config, split: str) -> Iterator[Tuple[str, str]]:
    """``(ann_file, config key)`` of the evaluators of ``split`` (e.g. CocoMetric's)."""
    evaluator = cfg.get(f'{split}_evaluator')
    many = isinstance(evaluator, (list, tuple))
    for i, metric in enumerate(evaluator if many else [evaluator]):
        ann_file = (metric or {}).get('ann_file') if isinstance(metric, dict) else None
        if ann_file and not is_remote(ann_file):
            yield ann_file, f'{split}_evaluator' + (f'.{i}' if many else '') + '.ann_file'


def check_datasets(cfg: Config, splits: Sequence[str] = ('train', 'val')) -> None:
    """Check that the data of ``splits`` (``'train'``, ``'val'``, ``'test'``) is on disk.

    For each dataloader the run uses (validation only when ``val_cfg`` is set), the data
    root, annotation file and image / label folders of its dataset (wrappers unwrapped) and
    the ``ann_file`` of its evaluator must exist; folders and files must not be empty.

    Raises:
        DatasetNotFoundError: naming each missing path with its config key, the layout the
            dataset class expects and how to get the data.
    """
    for split in splits:
        if split != 'train' and cfg.get(f'{split}_cfg') is None:
            continue  # val_cfg=None: no validation (an empty dict, as mmpretrain's, is a loop)
        missing, types, roots = [], [], []
        for dataset, key in _datasets_of(cfg, split):
            for path, path_key, folder in _dataset_paths(dataset, key):
                why = _problem(path, folder)
                if why:
                    missing.append(f'{path} ({path_key}) {why}')
                    types.append(str(dataset.get('type', 'the dataset')))
                    roots.append(str(dataset.get('data_root') or osp.dirname(path) or '.'))
                    break  # the first missing path (e.g. the root) says enough
        for ann_file, key in _evaluator_files(cfg, split):
            why = _problem(ann_file, folder=False)
            if why:
                missing.append(f'{ann_file} ({key}) {why}')
        if missing:
            raise DatasetNotFoundError(_dataset_message(cfg, split, missing, types, roots))


def _dataset_message(cfg: Config, split: str, missing: List[str], types: List[str],
                     roots: List[str]) -> str:
    dataset_type = types[0] if types else 'the dataset'
    root = roots[0] if roots else '.'
    name = {'train': 'training', 'val': 'validation', 'test': 'test'}.get(split, split)
    lines = [f'the {name} data of {cfg.filename or "the config"} is not where the config '
             'looks:']
    lines += [f'  {m}' for m in missing]
    layout, how = _LAYOUTS.get(dataset_type.split('.')[-1], (None, _GENERIC_HOW))
    if layout:
        lines.append(f'{dataset_type} expects this layout:')
        lines.append(f'  {root.rstrip("/")}/')
        lines += ['    ' + line for line in layout.splitlines()]
    lines.append('To get it: ' + how.format(root=root) + '.')
    lines.append(f'If the data is elsewhere, link it to {root} or set --cfg-options '
                 f'{split}_dataloader.dataset.data_root=PATH (and the other dataloaders and '
                 'evaluators that read it).')
    return '\n'.join(lines)


# -------------------------------------------------------------------------- checkpoints
def _pretrained_cfgs(node, key: str) -> Iterator[Tuple[dict, str]]:
    """``(init_cfg, config key)`` of every ``Pretrained`` init_cfg in a model config."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        for i, c in enumerate(init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]):
            if isinstance(c, dict) and getattr(c.get('type'), '__name__',
                                               c.get('type')) in ('Pretrained',
                                                                  'PretrainedInit'):
                sub = f'.{i}' if isinstance(init_cfg, (list, tuple)) else ''
                yield c, f'{key}.init_cfg{sub}'
        for name, value in node.items():
            if name != 'init_cfg':
                yield from _pretrained_cfgs(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_cfgs(value, f'{key}.{i}')


def check_pretrained(cfg: Config) -> None:
    """Check that every local ``Pretrained`` checkpoint in ``cfg.model``'s init_cfgs exists
    and can be read (its tensors memory-mapped, not loaded).

    Raises:
        CheckpointError: naming the config key and the ways out (convert a classification
            checkpoint, point the key elsewhere, or train from scratch), or why the file
            cannot be read.
    """
    for init_cfg, key in _pretrained_cfgs(cfg.model, 'model'):
        path = init_cfg.get('checkpoint')
        if not path or is_remote(path):
            continue
        if osp.isfile(path):
            read_checkpoint(path, f'{key}.checkpoint', mmap=True)
            continue
        raise CheckpointError(
            f'{key}.checkpoint={path!r}: no such file. It is the ImageNet-1K backbone the '
            'model starts from: make it from a sola_*_in1k checkpoint with '
            f'`python tools/model_converters/cls2backbone.py IN1K_CKPT {path}`, or point to '
            f'yours with --cfg-options {key}.checkpoint=PATH, or train from scratch with '
            f'--cfg-options {key}=None.')


def _state_dict(ckpt: dict, path: str, what: str) -> Dict[str, torch.Tensor]:
    """The checkpoint's weights, keys as mmengine's Runner loads them (``module.`` off)."""
    state_dict = ckpt.get('state_dict', ckpt)
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f'{what} {path!r} holds no state dict of tensors (neither the '
                              "file nor its 'state_dict' entry).")
    return {_MODULE_PREFIX.sub('', k): v for k, v in state_dict.items()}


def model_shapes(cfg: Config) -> Dict[str, Tuple[int, ...]]:
    """``{state dict key: shape}`` of the config's model, without allocating its weights.

    The model is built on the ``meta`` device; a model whose constructor needs real tensor
    values (e.g. ``tensor.tolist()``) is built on the CPU instead, which costs its init time.
    """
    registry = init_toolkit(cfg)
    try:
        with torch.device('meta'):
            model = registry.MODELS.build(cfg.model)
    except (NotImplementedError, RuntimeError) as err:
        print_log(f'building the model on the meta device failed ({err}); building it on '
                  'the CPU to read its parameter names', logger='current',
                  level=logging.DEBUG)
        model = registry.MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _by_module(keys: List[str]) -> str:
    """How many keys per top-level module, e.g. ``'decode_head: 62, backbone: 6'``."""
    counts: Dict[str, int] = {}
    for key in keys:
        top = key.split('.')[0].split(':')[0]
        counts[top] = counts.get(top, 0) + 1
    return ', '.join(f'{name}: {n}' for name, n in counts.items())


def check_checkpoint(cfg: Config, path: str, what: str = 'checkpoint',
                     resume: bool = False) -> None:
    """Check that ``path`` exists, is readable and fits ``cfg.model`` key for key.

    Args:
        cfg: the config whose model will load the checkpoint.
        path: a local checkpoint file (remote ones, ``scheme://...``, are not checked).
        what: how the user named it, for the message (``'--resume'``, ``'load_from'``).
        resume: the run continues from it, so it must also hold the training state
            (``meta`` with the iteration; optimizer, schedulers) that a training run saves.

    Raises:
        CheckpointError: the file is missing or unreadable, or some keys of the model are
            missing from it, some of its keys are not in the model, or shapes differ; the
            message lists a few of each.
    """
    if is_remote(path):
        return
    ckpt = read_checkpoint(path, what, mmap=True)
    if resume and not (isinstance(ckpt.get('meta'), dict) and 'iter' in ckpt['meta']
                       and 'optimizer' in ckpt):
        raise CheckpointError(
            f'{what} {path!r} holds weights but not the training state (iteration, '
            'optimizer) a run continues from, e.g. a published or converted checkpoint. To '
            f'start a new run from its weights, use --cfg-options load_from={path} instead.')
    state = _state_dict(ckpt, path, what)
    own = model_shapes(cfg)
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {own[k]}' for k in own
              if k in state and tuple(state[k].shape) != own[k]]
    if not (missing or unexpected or shapes):
        return
    lines = [f'{what} {path!r} does not fit the model of {cfg.filename or "the config"} '
             f'({len(own)} keys): {len(missing)} missing, {len(unexpected)} unexpected, '
             f'{len(shapes)} of another shape.']
    for label, keys in (('missing', missing), ('unexpected', unexpected),
                        ('shape differs', shapes)):
        if keys:
            more = f' ... (+{len(keys) - _EXAMPLES} more)' if len(keys) > _EXAMPLES else ''
            lines.append(f'  {label}: {", ".join(keys[:_EXAMPLES])}{more} [{_by_module(keys)}]')
    lines.append('Use a checkpoint written by a run of this config (a backbone-only '
                 'checkpoint belongs in model.backbone.init_cfg, not here).')
    raise CheckpointError('\n'.join(lines))


def resolve_resume(cfg: Config, resume: Optional[str]) -> Optional[str]:
    """The checkpoint a ``--resume`` run continues from, or None to start from scratch.

    Args:
        resume: ``'auto'`` (``--resume`` without a value: the checkpoint the work dir's
            ``last_checkpoint`` file names, None when there is none), a path, or None.

    Raises:
        CheckpointError: ``last_checkpoint`` names a file that no longer exists.
    """
    if resume is None:
        return None
    if resume != 'auto':
        return resume
    from mmengine.runner import find_latest_checkpoint
    latest = find_latest_checkpoint(cfg.work_dir)
    if latest is None or is_remote(latest) or osp.isfile(latest):
        return latest
    found = sorted(f for f in os.listdir(cfg.work_dir) if f.endswith('.pth'))
    raise CheckpointError(
        f'--resume: {osp.join(cfg.work_dir, "last_checkpoint")} names {latest!r}, which does '
        f'not exist. Resume from one of the checkpoints in {cfg.work_dir} with '
        f'--resume PATH: {found or "(none there)"}.')


def adopt_resumed_seed(cfg: Config) -> None:
    """A resumed run whose config has no ``randomness.seed`` takes the checkpoint's.

    With ``seed=None`` mmengine's Runner draws a new seed, builds the dataloaders with it (the
    sampler's shuffling, the dataloader workers' seeds) and only then, in ``resume``, switches
    to the checkpoint's seed: the resumed run would train on other batches, with other
    augmentations, than the interrupted one. Call after :func:`check_checkpoint`.
    """
    if not cfg.get('resume') or not cfg.get('load_from') or is_remote(cfg.load_from):
        return
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is not None:
        return
    seed = (read_checkpoint(cfg.load_from, '--resume', mmap=True).get('meta') or {}).get('seed')
    if seed is not None:
        cfg.randomness = dict(randomness, seed=int(seed))
        print_log(f'--resume: randomness.seed={int(seed)}, the seed of the run it continues '
                  '(the config sets none)', logger='current')


__all__ = ['DatasetNotFoundError', 'CheckpointError', 'check_datasets', 'check_pretrained',
           'check_checkpoint', 'model_shapes', 'resolve_resume', 'adopt_resumed_seed']
