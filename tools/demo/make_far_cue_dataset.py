#!/usr/bin/env python
"""Build the far-cue dataset of the pattern study's CPU default (mmsola.demo.far_cue).

    python tools/demo/make_far_cue_dataset.py                 # data/sola_far_cue, seed 0
    python tools/demo/make_far_cue_dataset.py data/sola_far_cue_lookup --markers 2
"""
import sys

from mmsola.commands.make_far_cue_dataset import main

if __name__ == '__main__':
    sys.exit(main())
