# UperNet + SoLA-Vision-B on ADE20K: the recipe of upernet_sola_t_ade20k.py with the base arch.
_base_ = ['./upernet_sola_t_ade20k.py']
# MLLA-B's published ImageNet-1K classifier, converted on load as in the tiny config
# (exact for the 'L' blocks, a warm start for the 'S' blocks); a local file works too:
# pretrained = 'PATH' (cls2backbone.py of your own SoLA classifier, or MLLA's file offline)
pretrained = 'https://cloud.tsinghua.edu.cn/f/91c85c5a1061496d8796/?dl=1'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=_base_.sola_archs.base.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=_base_.sola_archs.base.channels),
    auxiliary_head=dict(in_channels=_base_.sola_archs.base.channels[2]))
