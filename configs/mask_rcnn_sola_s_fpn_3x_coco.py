# Mask R-CNN + FPN + SoLA-Vision-S on COCO, 3x multi-scale: the recipe of
# mask_rcnn_sola_t_fpn_3x_coco.py with the small arch.
_base_ = ['./mask_rcnn_sola_t_fpn_3x_coco.py']
pretrained = 'checkpoints/sola_s_in1k_backbone.pth'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=_base_.sola_archs.small.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=_base_.sola_archs.small.channels))
