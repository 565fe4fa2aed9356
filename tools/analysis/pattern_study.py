#!/usr/bin/env python
"""Accuracy against layer pattern: train a config once per pattern and seed, all else equal.

    # the CPU default: the config's own pattern_study (5 patterns x 3 seeds); make pattern-study
    python tools/demo/make_far_cue_dataset.py
    python tools/analysis/pattern_study.py configs/demo/fpn_sola_far_cue_demo.py

    # explicit patterns
    python tools/analysis/pattern_study.py configs/demo/fpn_sola_far_cue_demo.py \
        --patterns L/LL/LLLL/LL L/LL/LLLS/LS --seeds 2 --work-dir work_dirs/two_patterns

What each run changes, what is written and how a study resumes:
``python tools/analysis/pattern_study.py -h`` and :mod:`mmsola.commands.pattern_study`.
"""
import sys

from mmsola.commands.pattern_study import main

if __name__ == '__main__':
    sys.exit(main())
