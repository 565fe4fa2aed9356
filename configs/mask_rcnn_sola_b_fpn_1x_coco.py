# Mask R-CNN + FPN + SoLA-Vision-B on COCO, 1x: the recipe of mask_rcnn_sola_t_fpn_1x_coco.py
# with the base arch.
_base_ = ['./mask_rcnn_sola_t_fpn_1x_coco.py']
# Made as in the tiny config; from MLLA-B's weights:
#   python tools/model_converters/mlla2sola.py MLLA_B.pth checkpoints/sola_b_in1k_backbone.pth \
#       --backbone-only --pattern default
pretrained = 'checkpoints/sola_b_in1k_backbone.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=_base_.sola_archs.base.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=_base_.sola_archs.base.channels))
