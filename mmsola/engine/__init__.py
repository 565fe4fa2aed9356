"""Runner hooks of mmsola's configs, registered in mmengine's root HOOKS registry (so mmdet,
mmseg and mmpretrain configs find them by name): RankZeroLoggerHook (every config) and
MESAHook (the ImageNet ones)."""
from .hooks import MESAHook, RankZeroLoggerHook

__all__ = ['RankZeroLoggerHook', 'MESAHook']
