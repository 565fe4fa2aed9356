#!/usr/bin/env python
"""Run a config's model on images with its toolkit's own Inferencer; save drawings and
predictions.

    python tools/infer.py configs/upernet_sola_t_ade20k.py upernet_sola_t.pth \\
        demo/street.jpg more_images/ --out-dir outputs/ [--device cpu] [--batch-size N]
        [--score-thr 0.3] [--cfg-options KEY=VALUE ...]

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
saves), else from the config's test dataset class. The inference is
:mod:`mmsola.apis.inference`; the output folder, the images, the config and the checkpoint
are checked before anything is built.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from mmsola.apis import collect_images, infer_images
from mmsola.checks import check_checkpoint, load_config
from mmsola.cli import run_tool
from mmsola.utils import check_writable
from mmsola.utils.devices import default_device


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='infer.py', description="Run a config's model on images with its toolkit's own "
        'Inferencer; save drawings and predictions.')
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


def infer(args: argparse.Namespace) -> list:
    """Check the inputs (cheapest first), infer and say where the results went; returns the
    images."""
    check_writable(args.out_dir, '--out-dir')
    images = collect_images(args.images)
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint(cfg, args.checkpoint)
    infer_images(cfg, args.checkpoint, images, args.out_dir, args.device or default_device(),
                 args.batch_size, args.score_thr)
    print(f'{len(images)} image(s) -> {osp.join(args.out_dir, "vis")} (drawn), '
          f'{osp.join(args.out_dir, "preds")} (predictions)')
    return images


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('infer.py', lambda: infer(args))


if __name__ == '__main__':
    sys.exit(main())
