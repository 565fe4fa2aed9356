"""The CPU demo: a synthetic ADE20K-layout dataset, its evaluation and its pictures.

Not imported by ``import mmsola``; ``tools/demo/`` uses it. Plotting (matplotlib) and the
toolkits (mmseg) are imported only by the functions that need them.
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
