#!/usr/bin/env python
"""Convert an MLLA checkpoint (github.com/LeapLabTHU/MLLA) into an mmsola checkpoint.

    python tools/model_converters/mlla2sola.py MLLA_T.pth checkpoints/sola_t_mlla_in1k.pth
        [--backbone-only] [--pattern default] [--ema] [--arch tiny|small|base] [--force]

The conversion and more examples: mmsola/commands/mlla2sola.py.
"""
import sys

from mmsola.commands.mlla2sola import main

if __name__ == '__main__':
    sys.exit(main())
