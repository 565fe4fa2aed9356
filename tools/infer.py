"""Run a config's model on images with its toolkit's own Inferencer; save drawings and predictions.

    python tools/infer.py configs/upernet_sola_t_ade20k.py upernet_sola_t.pth \\
        demo/street.jpg more_images/ --out-dir outputs/

The config's ``default_scope`` picks the Inferencer: mmseg's ``MMSegInferencer``, mmdet's
``DetInferencer`` or mmpretrain's ``ImageClassificationInferencer``. Each image goes through
the config's test pipeline and model. IMAGES are files or folders (their image files, not
recursive). Written under ``--out-dir``:

* ``vis/``: each image with its prediction drawn (segmentation: the class colours over the
  image; detection: boxes, masks and labels above ``--score-thr``; classification: the top
  class and score), named like the image (classification: ``<stem>.png``).
* ``preds/``: the predictions, ``<stem>.png`` (segmentation: mmseg's uint8 label map),
  ``<stem>.json`` (detection: mmdet's boxes, labels, scores and RLE masks;
  classification: label, score, class and all scores).

Class names and palette come from the checkpoint's ``meta['dataset_meta']`` (what training
saves), else from the config's test dataset class.
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings
from typing import Dict, List, Optional, Sequence

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class InferError(ValueError):
    """Bad input to the tool; the message says what was wrong and how to fix it."""


# ------------------------------------------------------------------------------- inputs
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
            found = sorted(osp.join(path, name) for name in os.listdir(path)
                           if name.lower().endswith(IMAGE_EXTENSIONS)
                           and osp.isfile(osp.join(path, name)))
            if not found:
                raise InferError(f'folder {path!r} holds no image '
                                 f'({", ".join(IMAGE_EXTENSIONS)})')
            images += found
        elif osp.isfile(path):
            images.append(path)
        else:
            raise InferError(f'image {path!r} does not exist')
    for path in images:
        try:
            check_image(path, MIN_IMAGE_SIDE)
        except ImageFileError as err:
            raise InferError(str(err)) from err
    stems: Dict[str, str] = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in stems:
            raise InferError(f'{stems[stem]} and {path} have the same name; their outputs '
                             'would overwrite each other, run them separately')
        stems[stem] = path
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
def run_segmentation(cfg, checkpoint, images, out_dir, args, meta) -> None:
    from mmseg.apis import MMSegInferencer

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*dataset_meta or class names.*')
        inferencer = MMSegInferencer(cfg, weights=checkpoint, device=args.device)
    if meta is not None:
        inferencer.model.dataset_meta.update(meta)
    inferencer(images, batch_size=args.batch_size, out_dir=out_dir, img_out_dir='vis',
               pred_out_dir='preds')
    # mmseg numbers its label maps in input order (00000000_pred.png, ...): name them
    # after their images instead.
    for index, path in enumerate(images):
        written = osp.join(out_dir, 'preds', f'{index:08d}_pred.png')
        if not osp.isfile(written):
            raise RuntimeError(f'mmseg did not write {written} for {path}; its naming of '
                               'predictions changed, please report')
        os.replace(written, _pred_path(out_dir, path, '.png'))


def run_detection(cfg, checkpoint, images, out_dir, args, meta) -> None:
    from mmdet.apis import DetInferencer

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*dataset_meta or class names.*')
        inferencer = DetInferencer(cfg, weights=checkpoint, device=args.device)
    if meta is not None:  # the visualizer shares this dict
        inferencer.model.dataset_meta.update(meta)
    inferencer(images, batch_size=args.batch_size, out_dir=out_dir, no_save_pred=False,
               pred_score_thr=args.score_thr)


def run_classification(cfg, checkpoint, images, out_dir, args, meta) -> None:
    from mmpretrain.apis import ImageClassificationInferencer

    classes = meta.get('classes') if meta else None
    inferencer = ImageClassificationInferencer(cfg, pretrained=checkpoint,
                                               device=args.device, classes=classes)
    os.makedirs(out_dir, exist_ok=True)
    results = inferencer(images, batch_size=args.batch_size,
                         show_dir=osp.join(out_dir, 'vis'))
    os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
    for path, result in zip(images, results):
        record = dict(result, pred_scores=result['pred_scores'].tolist())
        with open(_pred_path(out_dir, path, '.json'), 'w') as f:
            json.dump(record, f)


def _pred_path(out_dir: str, image: str, suffix: str) -> str:
    return osp.join(out_dir, 'preds', osp.splitext(osp.basename(image))[0] + suffix)


RUNNERS = dict(mmseg=run_segmentation, mmdet=run_detection,
               mmpretrain=run_classification)


# --------------------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file (configs/*.py)')
    parser.add_argument('checkpoint', help='checkpoint of that config')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--out-dir', required=True,
                        help='folder for vis/ (drawn results) and preds/ (predictions)')
    parser.add_argument('--device', default=None,
                        help="'cuda', 'cuda:1', 'cpu' (default: cuda if available)")
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: lowest score of a drawn box (default: 0.3)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides, key=value (dotted keys)')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import mmsola  # noqa: F401  (registers SoLAVision; weights-only loading of checkpoints)
    from mmsola.apis import (
        USER_ERROR_STATUS,
        check_checkpoint,
        error_line,
        init_toolkit,
        load_config,
        toolkit_of,
    )
    from mmsola.utils import check_writable
    from mmsola.utils.devices import default_device

    try:
        check_writable(args.out_dir, '--out-dir')  # the cheapest checks first
        images = collect_images(args.images)
        cfg = load_config(args.config, args.cfg_options)
        check_checkpoint(cfg, args.checkpoint)
    except ValueError as err:  # InferError, ConfigError, CheckpointError, OutputPathError
        print(error_line('infer.py', err), file=sys.stderr)
        return USER_ERROR_STATUS
    args.device = args.device or default_device()
    toolkit = toolkit_of(cfg)
    registry = init_toolkit(cfg)
    meta = None
    if checkpoint_dataset_meta(args.checkpoint) is None:
        meta = config_dataset_meta(cfg, registry)
        print(f'{args.checkpoint} has no dataset_meta; classes and palette from the '
              f"config's test dataset ({cfg.test_dataloader.dataset.type})")
    RUNNERS[toolkit](cfg, args.checkpoint, images, args.out_dir, args, meta)
    print(f'{len(images)} image(s) -> {osp.join(args.out_dir, "vis")} (drawn), '
          f'{osp.join(args.out_dir, "preds")} (predictions)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
