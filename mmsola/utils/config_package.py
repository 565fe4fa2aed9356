"""Lets a user's own config inherit one of mmsola's, e.g.
``_base_ = 'mmsola::upernet/upernet_sola_t_ade20k.py'``.

mmengine resolves a base ``'<scope>::<dir>/<file>.py'`` in ``<scope>/.mim/configs`` of the
installed package (setup.py ships mmsola's ``configs/`` there as it is), but only for the import
names in its ``mmengine.config.utils.MODULE2PACKAGE`` (import name -> distribution), a table it
reads at each lookup. :func:`register_config_package` adds mmsola to it; ``import mmsola`` calls
it, so a script that imports mmsola before ``Config.fromfile`` (mmsola's tools do) can load such
a config. mmengine 0.10 requires the folder (``<dir>/<file>``): mmsola's configs live in their
family folders (``sola/``, ``upernet/``, ``mask_rcnn/``), so that is the form to write.
"""
from mmengine.config import utils as config_utils

PACKAGE = 'mmsola'


def register_config_package() -> None:
    """Add mmsola to mmengine's table of packages whose ``.mim`` configs a ``<pkg>::`` base
    may name (idempotent)."""
    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
