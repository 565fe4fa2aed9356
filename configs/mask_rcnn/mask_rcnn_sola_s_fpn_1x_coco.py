# Mask R-CNN + FPN + SoLA-Vision-S on COCO, 1x: the recipe of mask_rcnn_sola_t_fpn_1x_coco.py
# with the small arch.
_base_ = ['./mask_rcnn_sola_t_fpn_1x_coco.py']
# MLLA-S's published ImageNet-1K classifier, converted on load as in the tiny config
# (exact for the 'L' blocks, a warm start for the 'S' blocks); a local file works too:
# pretrained = 'PATH' (cls2backbone.py of your own SoLA classifier, or MLLA's file offline)
pretrained = 'https://cloud.tsinghua.edu.cn/f/0e5d0b1409d540aaa80c/?dl=1'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=_base_.sola_archs.small.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=_base_.sola_archs.small.channels))
