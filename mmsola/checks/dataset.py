"""The dataset check that ``tools/train.py`` and ``tools/test.py`` run before a Runner is built.

:func:`check_datasets`: every dataset (and evaluator annotation file) a config reads is where
the config looks; otherwise :class:`DatasetNotFoundError` names the missing path, the layout
the toolkit's dataset class expects and how to get the data. (The checkpoint checks are in
:mod:`.checkpoint`.)
"""
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmsola.checkpoint import is_remote
from mmsola.errors import UserError
from mmsola.utils.dataset_wrappers import unwrap_datasets

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


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A dataset the config reads is not where it looks; the message says how to fix it."""


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
    for dataset, key in unwrap_datasets(loader['dataset'], f'{split}_dataloader.dataset'):
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


def find_empty_files(cfg: Config, splits: Sequence[str] = ('train', 'val', 'test'),
                     limit: int = 5) -> List[str]:
    """Up to ``limit`` zero-byte files under the image / label folders (``data_prefix``) of
    ``splits``' datasets.

    A walk of the folders, so it is only called after a run failed on a file it could not
    decode (OpenCV names no file for an empty buffer), to say which files they are.
    """
    folders = []  # in order, each once (the splits often share folders)
    for split in splits:
        for dataset, key in _datasets_of(cfg, split):
            folders += [path for path, path_key, folder in _dataset_paths(dataset, key)
                        if folder and not path_key.endswith('.data_root') and osp.isdir(path)
                        and path not in folders]
    found = []
    for folder in folders:
        for parent, _, names in os.walk(folder):
            found += [osp.join(parent, n) for n in sorted(names)
                      if osp.getsize(osp.join(parent, n)) == 0]
            if len(found) >= limit:
                return found[:limit]
    return found


__all__ = ['DatasetNotFoundError', 'check_datasets', 'find_empty_files']
