# SoLA-Vision backbone settings per arch, shared by every mmsola config. Widths, heads and layer
# patterns are the presets of SoLAVision.arch_zoo ('tiny', 'small', 'base'); a config picks one
# with backbone=dict(type='SoLAVision', arch=...) and reads its channels and drop path here;
# mesa_in1k is the weight of MLLA's EMA self-distillation term (its cfgs/mlla_*.yaml AUG.MESA).
sola_archs = dict(
    tiny=dict(channels=[64, 128, 256, 512], drop_path_in1k=0.2, drop_path_dense=0.2,
              mesa_in1k=1.0),
    small=dict(channels=[64, 128, 256, 512], drop_path_in1k=0.3, drop_path_dense=0.3,
               mesa_in1k=1.5),
    base=dict(channels=[96, 192, 384, 768], drop_path_in1k=0.5, drop_path_dense=0.4,
              mesa_in1k=2.0),
)
# Checkpoints write atomically (temporary file, fsync, rename), and so does last_checkpoint: a
# crash at any point keeps a whole checkpoint to resume from (mmsola.engine.AtomicCheckpointHook).
# Each config adds its interval, how many to keep and the metric of the best.
atomic_checkpoint = dict(type='AtomicCheckpointHook', backend_args=dict(backend='atomic_local'))
# Every rank's random generator states go into each checkpoint and come back on resume, so that
# a resumed run draws the drop-path masks and augmentations of the uninterrupted one.
rng_state_hook = dict(type='RNGStateHook')
# The hooks every mmsola config runs (custom_hooks = [..., *_base_.reliability_hooks]):
# RNGStateHook as above; FiniteLossHook stops at the first iteration whose loss is NaN or
# infinite, before it is saved; DatasetCheckHook refuses an empty training set and labels outside
# the classes, naming the file.
reliability_hooks = [rng_state_hook, dict(type='FiniteLossHook'), dict(type='DatasetCheckHook')]
