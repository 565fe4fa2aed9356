#!/usr/bin/env python
"""The mmsola demo: train UperNet-SoLA on CPU in minutes and show what it learned.

    python tools/demo/run_demo.py            # what `make demo` runs
    python tools/demo/run_demo.py --seed 1 --iters 400 [--data-root DIR] [--work-dir-root DIR]
"""
import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a machine shared with other work, spinning
# threads that wait for a descheduled peer made each training step up to 10x slower. Set
# before torch loads (here and, inherited, in the training process); a user's value wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from mmsola.commands.run_demo import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
