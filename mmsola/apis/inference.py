"""Running a config's model on image files with its toolkit's own Inferencer (behind
``tools/infer.py``): the images to run on, class names and palette, and one runner per
toolkit that writes ``vis/`` (drawings) and ``preds/`` (predictions) under an output folder.

The toolkits are imported only when a runner runs.
"""
import json
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence

from mmsola.checks.config import init_toolkit, toolkit_of
from mmsola.errors import UserError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class InferError(UserError, ValueError):
    """Bad input to the tool; the message says what was wrong and how to fix it."""


# ------------------------------------------------------------------------------- inputs
def _folder_images(path: str) -> List[str]:
    """The image files of a folder, sorted (not recursive)."""
    found = sorted(osp.join(path, name) for name in os.listdir(path)
                   if name.lower().endswith(IMAGE_EXTENSIONS)
                   and osp.isfile(osp.join(path, name)))
    if not found:
        raise InferError(f'folder {path!r} holds no image ({", ".join(IMAGE_EXTENSIONS)})')
    return found


def _check_unique_stems(images: Sequence[str]) -> None:
    """One output per image: no two images may share a name without suffix."""
    stems: Dict[str, str] = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in stems:
            raise InferError(f'{stems[stem]} and {path} have the same name; their outputs '
                             'would overwrite each other, run them separately')
        stems[stem] = path


def collect_images(paths: Sequence[str]) -> List[str]:
    """Image files of ``paths`` (files as given, folders: their image files, sorted).

    Raises:
        InferError: a path does not exist, a folder has no image, a file is not a readable
            image or is smaller than 32x32 pixels, or two images share a name (their outputs
            would overwrite each other).
    """
    from mmsola.utils.image_files import MIN_IMAGE_SIDE, ImageFileError, check_image

    images = []
    for path in paths:
        if osp.isdir(path):
            images += _folder_images(path)
        elif osp.isfile(path):
            images.append(path)
        else:
            raise InferError(f'image {path!r} does not exist')
    for path in images:
        try:
            check_image(path, MIN_IMAGE_SIDE)
        except ImageFileError as err:
            raise InferError(str(err)) from err
    _check_unique_stems(images)
    return images


def checkpoint_dataset_meta(checkpoint: str) -> Optional[dict]:
    """``meta['dataset_meta']`` of a checkpoint, or None."""
    from mmsola.checkpoint import read_checkpoint
    meta = read_checkpoint(checkpoint, mmap=True).get('meta')
    return (meta or {}).get('dataset_meta')


def config_dataset_meta(cfg, registry) -> dict:
    """Class names and palette of the config's test dataset: its class's ``METAINFO``
    updated by the config's ``metainfo`` (dataset wrappers unwrapped)."""
    from mmsola.utils.dataset_wrappers import pipeline_dataset
    dataset = pipeline_dataset(cfg.test_dataloader.dataset)
    meta = dict(getattr(registry.DATASETS.get(dataset['type']), 'METAINFO', {}) or {})
    meta.update(dataset.get('metainfo') or {})
    return {k: meta[k] for k in ('classes', 'palette') if k in meta}


# ------------------------------------------------------------------------ per toolkit
# Each runner: (cfg, checkpoint, images, out_dir, meta, device, batch_size, score_thr);
# ``meta`` (classes, palette) replaces the model's dataset_meta when not None.
def run_segmentation(cfg, checkpoint: str, images: Sequence[str], out_dir: str,
                     meta: Optional[dict], device: str, batch_size: int = 1,
                     score_thr: float = 0.3) -> None:
    """mmseg's ``MMSegInferencer``: ``vis/<image name>``, ``preds/<stem>.png`` label maps."""
    from mmseg.apis import MMSegInferencer

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*dataset_meta or class names.*')
        inferencer = MMSegInferencer(cfg, weights=checkpoint, device=device)
    if meta is not None:
        inferencer.model.dataset_meta.update(meta)
    inferencer(images, batch_size=batch_size, out_dir=out_dir, img_out_dir='vis',
               pred_out_dir='preds')
    # mmseg numbers its label maps in input order (00000000_pred.png, ...): name them
    # after their images instead.
    for index, path in enumerate(images):
        written = osp.join(out_dir, 'preds', f'{index:08d}_pred.png')
        if not osp.isfile(written):
            raise RuntimeError(f'mmseg did not write {written} for {path}; its naming of '
                               'predictions changed, please report')
        os.replace(written, _pred_path(out_dir, path, '.png'))


def run_detection(cfg, checkpoint: str, images: Sequence[str], out_dir: str,
                  meta: Optional[dict], device: str, batch_size: int = 1,
                  score_thr: float = 0.3) -> None:
    """mmdet's ``DetInferencer``: ``vis/<image name>`` (boxes above ``score_thr``),
    ``preds/<stem>.json``."""
    from mmdet.apis import DetInferencer

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*dataset_meta or class names.*')
        inferencer = DetInferencer(cfg, weights=checkpoint, device=device)
    if meta is not None:  # the visualizer shares this dict
        inferencer.model.dataset_meta.update(meta)
    inferencer(images, batch_size=batch_size, out_dir=out_dir, no_save_pred=False,
               pred_score_thr=score_thr)


def run_classification(cfg, checkpoint: str, images: Sequence[str], out_dir: str,
                       meta: Optional[dict], device: str, batch_size: int = 1,
                       score_thr: float = 0.3) -> None:
    """mmpretrain's ``ImageClassificationInferencer``: ``vis/<stem>.png``,
    ``preds/<stem>.json`` (label, score, class and all scores)."""
    from mmpretrain.apis import ImageClassificationInferencer

    classes = meta.get('classes') if meta else None
    inferencer = ImageClassificationInferencer(cfg, pretrained=checkpoint, device=device,
                                               classes=classes)
    os.makedirs(out_dir, exist_ok=True)
    results = inferencer(images, batch_size=batch_size, show_dir=osp.join(out_dir, 'vis'))
    os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
    for path, result in zip(images, results):
        record = dict(result, pred_scores=result['pred_scores'].tolist())
        with open(_pred_path(out_dir, path, '.json'), 'w') as f:
            json.dump(record, f)


def _pred_path(out_dir: str, image: str, suffix: str) -> str:
    return osp.join(out_dir, 'preds', osp.splitext(osp.basename(image))[0] + suffix)


RUNNERS = dict(mmseg=run_segmentation, mmdet=run_detection,
               mmpretrain=run_classification)


def infer_images(cfg, checkpoint: str, images: Sequence[str], out_dir: str, device: str,
                 batch_size: int = 1, score_thr: float = 0.3) -> None:
    """Run the config's toolkit's runner on ``images`` (from :func:`collect_images`); class
    names and palette from the checkpoint's ``meta['dataset_meta']``, else (said so) from
    the config's test dataset."""
    registry = init_toolkit(cfg)
    meta = None
    if checkpoint_dataset_meta(checkpoint) is None:
        meta = config_dataset_meta(cfg, registry)
        print(f'{checkpoint} has no dataset_meta; classes and palette from the '
              f"config's test dataset ({cfg.test_dataloader.dataset.type})")
    RUNNERS[toolkit_of(cfg)](cfg, checkpoint, images, out_dir, meta, device, batch_size,
                             score_thr)
