# The hooks every mmsola config runs, written once. A config takes them with
#   custom_hooks = [..., *_base_.reliability_hooks]
#   default_hooks = dict(logger=_base_.rank_zero_logger,
#                        checkpoint=dict(_delete_=True, **_base_.atomic_checkpoint, interval=...))
#
# RankZeroLoggerHook: mmengine's LoggerHook, but the test-metrics JSON is written by rank 0
# alone (mmengine 0.10 writes it from every rank into one file).
rank_zero_logger = dict(type='RankZeroLoggerHook')
# Checkpoints write atomically (temporary file, fsync, rename), and so does last_checkpoint: a
# crash at any point keeps a whole checkpoint to resume from (mmsola.engine.AtomicCheckpointHook).
# Each config adds its interval, how many to keep and the metric of the best.
atomic_checkpoint = dict(type='AtomicCheckpointHook', backend_args=dict(backend='atomic_local'))
# RNGStateHook: every rank's random generator states go into each checkpoint and come back on
# resume, so that a resumed run draws the drop-path masks and augmentations of the uninterrupted
# one. FiniteLossHook stops at the first iteration whose loss is NaN or infinite, before it is
# saved; DatasetCheckHook refuses an empty training set and labels outside the classes, naming
# the file.
rng_state_hook = dict(type='RNGStateHook')
reliability_hooks = [rng_state_hook, dict(type='FiniteLossHook'), dict(type='DatasetCheckHook')]
