"""Runner hooks that every mmsola config uses (registered in mmengine's root HOOKS registry, so
mmdet, mmseg and mmpretrain configs find them by name)."""
from .hooks import RankZeroLoggerHook

__all__ = ['RankZeroLoggerHook']
