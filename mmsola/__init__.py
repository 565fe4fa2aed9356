"""mmsola: SoLA-Vision backbones and a fused linear-attention op for OpenMMLab.

Importing mmsola registers its modules in mmengine's root registries (so mmdet, mmseg and
mmpretrain find them through ``custom_imports``), checks the versions of the OpenMMLab packages
in use, lets torch's weights-only loader read mmengine's own checkpoints, lets mmengine
resolve ``mmsola::`` base configs (the configs shipped in ``mmsola/.mim``), and lets mmengine's
loaders fetch MLLA's published checkpoints by URL (``mmsola.convert.mlla_weights``) and the
models load MLLA's checkpoints, converted on load (``mmsola.convert.mlla_pretrained``).
"""
from .checkpoint import allow_mmengine_checkpoint_globals
from .utils import check_imported_versions, register_config_package
from .version import __version__

check_imported_versions()
allow_mmengine_checkpoint_globals()
register_config_package()

from . import engine, models, ops  # noqa: E402  (registers SoLAVision, its hooks and friends)

# mmengine's loaders fetch MLLA's URLs; the models load MLLA's checkpoints, converted
from .convert import mlla_pretrained, mlla_weights  # noqa: E402,F401

__all__ = ['__version__', 'engine', 'models', 'ops']
