"""Runner hooks and optimizer wrappers of mmsola's configs and tools, registered in mmengine's
root HOOKS / OPTIM_WRAPPERS registries (so mmdet, mmseg and mmpretrain configs find them by
name): RankZeroLoggerHook, AtomicCheckpointHook, RNGStateHook, FiniteLossHook and
DatasetCheckHook (every config), MESAHook (the ImageNet ones), CPUAutocastOptimWrapper (--amp on
a machine without CUDA)."""
from .hooks import (
    RNG_STATE_KEY,
    AtomicCheckpointHook,
    DatasetCheckError,
    DatasetCheckHook,
    FiniteLossHook,
    InvalidLossError,
    MESAHook,
    RankZeroLoggerHook,
    RNGStateHook,
    get_rng_state,
    set_rng_state,
)
from .optim_wrappers import CPUAutocastOptimWrapper

__all__ = [
    'AtomicCheckpointHook', 'RankZeroLoggerHook', 'RNGStateHook', 'RNG_STATE_KEY',
    'get_rng_state', 'set_rng_state', 'MESAHook', 'CPUAutocastOptimWrapper',
    'DatasetCheckError', 'DatasetCheckHook', 'FiniteLossHook', 'InvalidLossError'
]
