"""Runner hooks that every mmsola config uses (registered in mmengine's root HOOKS registry, so
mmdet, mmseg and mmpretrain configs find them by name)."""
from .hooks import (DatasetCheckError, DatasetCheckHook, FiniteLossHook, InvalidLossError,
                    RankZeroLoggerHook)

__all__ = [
    'DatasetCheckError', 'DatasetCheckHook', 'FiniteLossHook', 'InvalidLossError',
    'RankZeroLoggerHook'
]
