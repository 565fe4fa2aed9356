# UperNet + SoLA-Vision-B on ADE20K: the recipe of upernet_sola_t_ade20k.py with the base arch.
_base_ = ['./upernet_sola_t_ade20k.py']
# Made as in the tiny config; from MLLA-B's weights:
#   python tools/model_converters/mlla2sola.py MLLA_B.pth checkpoints/sola_b_in1k_backbone.pth \
#       --backbone-only --pattern default
pretrained = 'checkpoints/sola_b_in1k_backbone.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=_base_.sola_archs.base.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=_base_.sola_archs.base.channels),
    auxiliary_head=dict(in_channels=_base_.sola_archs.base.channels[2]))
