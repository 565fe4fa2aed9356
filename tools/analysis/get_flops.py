#!/usr/bin/env python
"""Parameters and FLOPs of SoLA-Vision models, with the attention matrix products counted.

    python tools/analysis/get_flops.py --arch tiny small base --shape 224 224
    python tools/analysis/get_flops.py --config configs/upernet_sola_t_ade20k.py
    python tools/analysis/get_flops.py --config configs/*.py        # the config table

What is counted, and how: ``python tools/analysis/get_flops.py -h`` and
:mod:`mmsola.commands.get_flops`.
"""
import sys

from mmsola.commands.get_flops import main

if __name__ == '__main__':
    sys.exit(main())
