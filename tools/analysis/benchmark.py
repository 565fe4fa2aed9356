#!/usr/bin/env python
"""Inference speed of a config's whole model in images/s, on any device, on one or many processes.

    python tools/analysis/benchmark.py configs/upernet_sola_t_ade20k.py [CKPT] [--device cuda]
    torchrun --nproc_per_node 8 tools/analysis/benchmark.py CONFIG --launcher pytorch

What is timed and what goes in: mmsola/commands/benchmark.py.
"""
import sys

from mmsola.commands.benchmark import main

if __name__ == '__main__':
    sys.exit(main())

