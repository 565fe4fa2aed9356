#!/usr/bin/env python
"""Make a training checkpoint fit for release: weights and meta only, sha256 in the file name.

    python tools/model_converters/publish_model.py work_dirs/sola_t_in1k/epoch_300.pth \\
        sola_t_in1k.pth
    # -> sola_t_in1k-<first 8 hex digits of the file's sha256>.pth

What is kept and dropped: mmsola/commands/publish_model.py.
"""
import sys

from mmsola.commands.publish_model import main

if __name__ == '__main__':
    sys.exit(main())
