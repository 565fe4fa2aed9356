#!/usr/bin/env python
"""Build (or check) the demo's synthetic ADE20K-layout dataset.

    python tools/demo/make_dataset.py                      # data/sola_demo, seed 0
    python tools/demo/make_dataset.py --verify             # re-hash the files vs the manifest
    python tools/demo/make_dataset.py out/ --seed 3 --num-train 400
"""
import sys

from mmsola.commands.make_dataset import main

if __name__ == '__main__':
    sys.exit(main())
