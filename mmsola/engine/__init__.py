"""Runner hooks and optimizer wrappers that every mmsola config or tool uses (registered in
mmengine's root HOOKS / OPTIM_WRAPPERS registries, so mmdet, mmseg and mmpretrain configs find
them by name)."""
from .hooks import (RNG_STATE_KEY, AtomicCheckpointHook, RankZeroLoggerHook, RNGStateHook,
                    get_rng_state, set_rng_state)
from .optim_wrappers import CPUAutocastOptimWrapper

__all__ = [
    'AtomicCheckpointHook', 'RankZeroLoggerHook', 'RNGStateHook', 'RNG_STATE_KEY',
    'get_rng_state', 'set_rng_state', 'CPUAutocastOptimWrapper'
]
