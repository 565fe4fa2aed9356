"""Inference: run a config's model on image files with its toolkit's own Inferencer
(:mod:`.inference`, behind ``tools/infer.py``).

Not imported by ``import mmsola``: the toolkits (mmdet, mmseg, mmpretrain) are imported only
when a model runs.
"""
from .inference import InferError, collect_images, infer_images

__all__ = ['InferError', 'collect_images', 'infer_images']
