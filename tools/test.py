#!/usr/bin/env python
"""Evaluate a checkpoint with an mmsola config, in mmdet, mmseg or mmpretrain (by its scope).

    python tools/test.py configs/upernet_sola_t_ade20k.py CKPT [--work-dir DIR]
        [--out preds.pkl] [--show-dir DIR] [--tta] [--cfg-options KEY=VALUE ...]
        [--launcher pytorch]

The metrics go to the log and to WORK_DIR/<timestamp>/<timestamp>.json. Before anything is
built, the config, the test data, the checkpoint (exists, can be read, fits the model) and
the output paths are checked; a problem ends the run with one message (exit status 2), as
does a damaged image or a label outside the classes met while testing.
"""
import sys

from mmsola.commands.test import main

if __name__ == '__main__':
    sys.exit(main())
