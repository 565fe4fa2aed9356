from .logger_hook import RankZeroLoggerHook

__all__ = ['RankZeroLoggerHook']
