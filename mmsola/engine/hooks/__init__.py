from .dataset_check_hook import DatasetCheckError, DatasetCheckHook
from .finite_loss_hook import FiniteLossHook, InvalidLossError
from .logger_hook import RankZeroLoggerHook

__all__ = [
    'DatasetCheckError', 'DatasetCheckHook', 'FiniteLossHook', 'InvalidLossError',
    'RankZeroLoggerHook'
]
