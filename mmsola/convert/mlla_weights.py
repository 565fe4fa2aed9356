"""MLLA's published checkpoints, in one table: where they are and the file name they are
cached under (their URLs end in ``?dl=1`` and name no file).

The URLs are the links of github.com/LeapLabTHU/MLLA (commit 66b6d29): its README's
"Pretrained Models" (ImageNet-1K classifiers, with ``model``) and
``downstream/detection/README.md`` (mmdet 2.x Mask R-CNN, with ``state_dict``) and
``downstream/segmentation/README.md`` (mmseg 0.x UperNet). The configs' ``pretrained`` name
:data:`IN1K` (tests/test_configs keep them in step); the loaders download one once
into torch's hub cache (:func:`mmsola.checkpoint.download.fetch_checkpoint`).
"""
from dataclasses import dataclass
from typing import Dict, Optional

from mmsola.checkpoint.download import register_download_host

SOURCE = 'github.com/LeapLabTHU/MLLA'


@dataclass(frozen=True)
class PublishedWeights:
    """One of MLLA's published files: its URL, the readable name of its cached copy, and
    what MLLA's README reports for it."""
    url: str
    file_name: str
    reported: str


_HOST = 'https://cloud.tsinghua.edu.cn/f/'

# ImageNet-1K classifiers (MLLA-T / S / B), by SoLAVision arch; 224x224 top-1 from the README
IN1K: Dict[str, PublishedWeights] = {
    'tiny': PublishedWeights(_HOST + '7a19712877cb4242889c/?dl=1', 'mlla_t_in1k.pth',
                             'ImageNet-1K top-1 83.5'),
    'small': PublishedWeights(_HOST + '0e5d0b1409d540aaa80c/?dl=1', 'mlla_s_in1k.pth',
                              'ImageNet-1K top-1 84.4'),
    'base': PublishedWeights(_HOST + '91c85c5a1061496d8796/?dl=1', 'mlla_b_in1k.pth',
                             'ImageNet-1K top-1 85.3'),
}
# COCO Mask R-CNN (mmdet 2.25), by (arch, schedule); box / mask mAP from the README
MASK_RCNN: Dict[tuple, PublishedWeights] = {
    ('tiny', '1x'): PublishedWeights(_HOST + 'ce362e868fb5491ca55c/?dl=1',
                                     'mlla_t_mask_rcnn_1x_coco.pth', 'box AP 46.8, mask AP 42.1'),
    ('tiny', '3x'): PublishedWeights(_HOST + '339d49127565432fb912/?dl=1',
                                     'mlla_t_mask_rcnn_3x_coco.pth', 'box AP 48.8, mask AP 43.8'),
    ('small', '1x'): PublishedWeights(_HOST + '3d29bec850e0441a8842/?dl=1',
                                      'mlla_s_mask_rcnn_1x_coco.pth', 'box AP 49.2, mask AP 44.2'),
    ('small', '3x'): PublishedWeights(_HOST + 'b501c886982e4c7f926d/?dl=1',
                                      'mlla_s_mask_rcnn_3x_coco.pth', 'box AP 50.5, mask AP 44.9'),
    ('base', '1x'): PublishedWeights(_HOST + '826278b01bed4df2bbc1/?dl=1',
                                     'mlla_b_mask_rcnn_1x_coco.pth', 'box AP 50.5, mask AP 45.0'),
}
# ADE20K UperNet (mmseg 0.28), 160k iterations; mIoU single / multi-scale from the README
UPERNET: Dict[str, PublishedWeights] = {
    'base': PublishedWeights(_HOST + '41760d4a531a4ffc9cbf/?dl=1', 'mlla_b_upernet_ade20k.pth',
                             'mIoU 51.9 (SS), 52.5 (MS)'),
}
PUBLISHED = (*IN1K.values(), *MASK_RCNN.values(), *UPERNET.values())

# mmengine's loaders (``load_from``, ``tools/test.py``) fetch these URLs through mmsola, into
# the files named here
register_download_host(_HOST, {w.url: w.file_name for w in PUBLISHED})


def published(url: str) -> Optional[PublishedWeights]:
    """The table's entry of ``url``, or None."""
    return next((w for w in PUBLISHED if w.url == url), None)

