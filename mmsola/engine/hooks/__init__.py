from .checkpoint_hook import AtomicCheckpointHook
from .dataset_check_hook import DatasetCheckError, DatasetCheckHook
from .finite_loss_hook import FiniteLossHook, InvalidLossError
from .logger_hook import RankZeroLoggerHook
from .mesa_hook import MESAHook, soft_target_cross_entropy
from .rng_state_hook import RNG_STATE_KEY, RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AtomicCheckpointHook', 'RankZeroLoggerHook', 'RNGStateHook', 'RNG_STATE_KEY',
    'get_rng_state', 'set_rng_state', 'MESAHook', 'soft_target_cross_entropy',
    'DatasetCheckError', 'DatasetCheckHook', 'FiniteLossHook', 'InvalidLossError'
]
