from .checkpoint_hook import AtomicCheckpointHook
from .logger_hook import RankZeroLoggerHook
from .mesa_hook import MESAHook, soft_target_cross_entropy
from .rng_state_hook import RNG_STATE_KEY, RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AtomicCheckpointHook', 'RankZeroLoggerHook', 'RNGStateHook', 'RNG_STATE_KEY',
    'get_rng_state', 'set_rng_state', 'MESAHook', 'soft_target_cross_entropy'
]
