"""mmsola: SoLA-Vision backbones and a fused linear-attention op for OpenMMLab.

Importing mmsola registers its modules in mmengine's root registries (so mmdet, mmseg and
mmpretrain find them through ``custom_imports``), checks the versions of the OpenMMLab packages
in use, and lets torch's weights-only loader read mmengine's own checkpoints.
"""
from .checkpoint import allow_mmengine_checkpoint_globals
from .utils import check_imported_versions
from .version import __version__

check_imported_versions()
allow_mmengine_checkpoint_globals()

from . import engine, models, ops  # noqa: E402  (registers SoLAVision, its hooks and friends)

__all__ = ['__version__', 'engine', 'models', 'ops']
