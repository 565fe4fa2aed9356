"""Lets a user's own config inherit one of mmsola's, e.g.
``_base_ = 'mmsola::upernet/upernet_sola_t_ade20k.py'``.

mmengine resolves a base ``'<scope>::<dir>/<file>.py'`` in ``<scope>/.mim/configs`` of the
installed package (setup.py ships mmsola's configs there), but only for the import names in
its ``mmengine.config.utils.MODULE2PACKAGE`` (import name -> distribution), a table it reads
at each lookup and the only place it takes such names from. :func:`register_config_package`
adds mmsola to it; ``import mmsola`` calls it, so a script that imports mmsola before
``Config.fromfile`` (mmsola's tools do) can load such a config. mmengine accepts only the
``<dir>/<file>`` form: the flat configs are reached through their family folder
(``sola/``, ``upernet/``, ``mask_rcnn/``, where their metafiles are).
"""
from mmengine.config import utils as config_utils

PACKAGE = 'mmsola'


def register_config_package() -> None:
    """Make ``mmsola::`` base configs resolvable by mmengine's ``Config`` (idempotent)."""
    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
