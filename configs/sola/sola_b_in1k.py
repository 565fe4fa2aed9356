# SoLA-Vision-B on ImageNet-1K: the recipe of sola_t_in1k.py with the base arch
# (and its MESA weight).
_base_ = ['./sola_t_in1k.py']

model = dict(
    arch='base', backbone=dict(drop_path_rate=_base_.sola_archs.base.drop_path_in1k))
custom_hooks = [
    _base_.ema_hook, dict(_base_.mesa_hook, weight=_base_.sola_archs.base.mesa_in1k),
    *_base_.reliability_hooks
]
