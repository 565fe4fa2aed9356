#!/usr/bin/env python
"""Turn a ``sola_*_in1k`` classifier checkpoint into the backbone checkpoint of the dense configs.

    python tools/model_converters/cls2backbone.py \\
        work_dirs/sola_t_in1k/best_accuracy_top1_epoch_300.pth checkpoints/sola_t_in1k_backbone.pth
        [--no-ema] [--out-indices 0 1 2 3] [--force]

What is kept, dropped and added: mmsola/commands/cls2backbone.py.
"""
import sys

from mmsola.commands.cls2backbone import main

if __name__ == '__main__':
    sys.exit(main())
