# UperNet + SoLA-Vision-S on ADE20K: the recipe of upernet_sola_t_ade20k.py with the small arch.
_base_ = ['./upernet_sola_t_ade20k.py']
# Made as in the tiny config; from MLLA-S's weights:
#   python tools/model_converters/mlla2sola.py MLLA_S.pth checkpoints/sola_s_in1k_backbone.pth \
#       --backbone-only --pattern default
pretrained = 'checkpoints/sola_s_in1k_backbone.pth'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=_base_.sola_archs.small.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=_base_.sola_archs.small.channels),
    auxiliary_head=dict(in_channels=_base_.sola_archs.small.channels[2]))
