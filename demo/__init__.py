"""The CPU demo: a synthetic ADE20K-layout dataset, its training run, evaluation and pictures.

Beside the package, not in the wheel (as mmdet keeps its ``demo/``): run its scripts from the
repository root, ``python -m demo.run_demo`` (``make demo``) and ``python -m
demo.make_dataset``; README.md in this folder. Plotting (matplotlib) and the toolkits (mmseg)
are imported only by the functions that need them.
"""
from .classes import CLASSES, METAINFO, PALETTE
from .synthetic_ade import (
    DEFAULT_ROOT,
    build_demo_dataset,
    describe_demo_dataset,
    ensure_demo_dataset,
    read_manifest,
    verify_demo_dataset,
)

__all__ = ['CLASSES', 'METAINFO', 'PALETTE', 'DEFAULT_ROOT', 'build_demo_dataset',
           'describe_demo_dataset', 'ensure_demo_dataset', 'read_manifest',
           'verify_demo_dataset']
