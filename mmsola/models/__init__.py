"""mmsola models: the SoLA-Vision backbone and its classifier setup.

Importing this package registers, in mmengine's root ``MODELS`` registry (so mmdet, mmseg and
mmpretrain all resolve them): ``SoLAVision`` (backbone) and ``SoLAVisionCls`` (a builder of
mmpretrain's ImageClassifier around it; mmpretrain is imported only when it is built).
"""
from .backbones import SoLAVision
from .classifiers import build_sola_vision_cls

__all__ = ['SoLAVision', 'build_sola_vision_cls']
