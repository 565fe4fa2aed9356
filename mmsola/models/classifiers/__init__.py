from .sola_vision_cls import build_sola_vision_cls

__all__ = ['build_sola_vision_cls']
