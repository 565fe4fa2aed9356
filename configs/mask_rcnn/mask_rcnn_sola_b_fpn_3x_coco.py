# Mask R-CNN + FPN + SoLA-Vision-B on COCO, 3x multi-scale: the recipe of
# mask_rcnn_sola_t_fpn_3x_coco.py with the base arch.
_base_ = ['./mask_rcnn_sola_t_fpn_3x_coco.py']
# MLLA-B's published ImageNet-1K classifier, converted on load as in the tiny config
# (exact for the 'L' blocks, a warm start for the 'S' blocks); a local file works too:
# pretrained = 'PATH' (cls2backbone.py of your own SoLA classifier, or MLLA's file offline)
pretrained = 'https://cloud.tsinghua.edu.cn/f/91c85c5a1061496d8796/?dl=1'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=_base_.sola_archs.base.drop_path_dense,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=_base_.sola_archs.base.channels))
