#!/usr/bin/env python
"""Cost of where the softmax blocks go: params, FLOPs, latency and ERF r(0.5) per layer pattern.

    # explicit patterns (stages separated by '/')
    python tools/analysis/pattern_sweep.py --arch tiny \
        --patterns LL/LLLL/LLLLLLLL/LLLL LL/LLLL/LLLSLLLS/LLLS LL/LLLL/SSSSSSSS/SSSS

    # the rule "k softmax blocks in stage 3 at evenly spaced positions", k = 0, 1, 2, 4, 8
    python tools/analysis/pattern_sweep.py --arch tiny --softmax-blocks 0 1 2 4 8 --stage 3

What is measured and written: ``python tools/analysis/pattern_sweep.py -h`` and
:mod:`mmsola.commands.pattern_sweep`.
"""
import sys

from mmsola.commands.pattern_sweep import main

if __name__ == '__main__':
    sys.exit(main())
