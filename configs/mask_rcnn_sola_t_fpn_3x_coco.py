# The config is configs/mask_rcnn/mask_rcnn_sola_t_fpn_3x_coco.py; this is the name the docs type.
_base_ = ['./mask_rcnn/mask_rcnn_sola_t_fpn_3x_coco.py']
