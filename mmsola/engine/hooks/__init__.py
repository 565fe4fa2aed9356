from .logger_hook import RankZeroLoggerHook
from .mesa_hook import MESAHook, soft_target_cross_entropy

__all__ = ['RankZeroLoggerHook', 'MESAHook', 'soft_target_cross_entropy']
