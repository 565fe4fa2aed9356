# SoLA-Vision-S on ImageNet-1K: the recipe of sola_t_in1k.py with the small arch
# (and its MESA weight).
_base_ = ['./sola_t_in1k.py']

model = dict(
    arch='small', backbone=dict(drop_path_rate=_base_.sola_archs.small.drop_path_in1k))
custom_hooks = [
    _base_.ema_hook, dict(_base_.mesa_hook, weight=_base_.sola_archs.small.mesa_in1k),
    *_base_.reliability_hooks
]
