#!/usr/bin/env python
"""Run a config's model on images with its toolkit's own Inferencer; save drawings and predictions.

    python tools/infer.py configs/upernet_sola_t_ade20k.py upernet_sola_t.pth \\
        demo/street.jpg more_images/ --out-dir outputs/ [--device cpu] [--batch-size N]
        [--score-thr 0.3] [--cfg-options KEY=VALUE ...]

What is written under --out-dir: mmsola/commands/infer.py.
"""
import sys

from mmsola.commands.infer import main

if __name__ == '__main__':
    sys.exit(main())
