#!/usr/bin/env python
"""Effective receptive field of SoLA-Vision backbones (the RepLKNet recipe), CSV + PNG.

    # the default hybrid of SoLA-T next to its all-linear and all-softmax patterns,
    # r(t) after every block of stages 3 and 4, on 50 images of a folder at 1024x1024
    python tools/analysis/erf.py --arch tiny --compare --per-depth --images data/imagenet/val_flat

    # a trained model: its config and checkpoint, the demo images
    python tools/analysis/erf.py --config configs/upernet_sola_t_ade20k.py \
        --checkpoint work_dirs/upernet_sola_t_ade20k/iter_160000.pth --images demo

The recipe, the images and what is written: ``python tools/analysis/erf.py -h`` and
:mod:`mmsola.commands.erf`.
"""
import sys

from mmsola.commands.erf import main

if __name__ == '__main__':
    sys.exit(main())
