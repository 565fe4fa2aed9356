from .checkpoint_hook import AtomicCheckpointHook
from .logger_hook import RankZeroLoggerHook
from .rng_state_hook import RNG_STATE_KEY, RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AtomicCheckpointHook', 'RankZeroLoggerHook', 'RNGStateHook', 'RNG_STATE_KEY',
    'get_rng_state', 'set_rng_state'
]
