# SoLA-Vision-B on ImageNet-1K: the recipe of sola_t_in1k.py with the base arch.
_base_ = ['./sola_t_in1k.py']

model = dict(
    arch='base', backbone=dict(drop_path_rate=_base_.sola_archs.base.drop_path_in1k))
