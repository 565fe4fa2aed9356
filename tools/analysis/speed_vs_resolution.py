#!/usr/bin/env python
"""Speed and peak memory of backbones against input resolution: CSV + PNG.

    # the recorded CPU comparison (benchmarks/speed_vs_resolution/record.sh; README.md, Performance)
    python tools/analysis/speed_vs_resolution.py --compare --threads 2 \\
        --resolutions 224 512 1024 --out-dir benchmarks/speed_vs_resolution
    # one config's backbone on a GPU, bf16 autocast, channels-last inputs
    python tools/analysis/speed_vs_resolution.py --config configs/upernet_sola_t_ade20k.py \\
        --device cuda --amp --channels-last

What is measured, and how: ``python tools/analysis/speed_vs_resolution.py -h`` and
:mod:`mmsola.commands.speed_vs_resolution`.
"""
import sys

from mmsola.commands.speed_vs_resolution import main

if __name__ == '__main__':
    sys.exit(main())
