#!/usr/bin/env python
"""Train a model from an mmsola config, in mmdet, mmseg or mmpretrain (by its default_scope).

    python tools/train.py configs/upernet_sola_t_ade20k.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher pytorch]

Before anything is built, the config, its datasets, its pretrained backbone and the
checkpoint to resume or load from are checked, and that the work dir can be written; a
problem ends the run with one message (exit status 2) and leaves the work dir as it was.
What the run meets later ends it with one message too (exit status 2): a damaged image, an
empty training set or labels outside the classes (DatasetCheckHook), a loss that is not
finite (FiniteLossHook; the last good checkpoint is kept).
"""
import sys

from mmsola.commands.train import main

if __name__ == '__main__':
    sys.exit(main())
