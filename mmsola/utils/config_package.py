"""Lets a user's own config inherit one of mmsola's, e.g.
``_base_ = 'mmsola::upernet_sola_t_ade20k.py'`` or ``'mmsola::upernet/upernet_sola_t_ade20k.py'``.

mmengine resolves a base ``'<scope>::<dir>/<file>.py'`` in ``<scope>/.mim/configs`` of the
installed package (setup.py ships mmsola's configs there), but only for the import names in
its ``mmengine.config.utils.MODULE2PACKAGE`` (import name -> distribution), a table it reads
at each lookup and the only place it takes such names from. :func:`register_config_package`
adds mmsola to it; ``import mmsola`` calls it, so a script that imports mmsola before
``Config.fromfile`` (mmsola's tools do) can load such a config.

mmengine 0.10's name check (``_get_package_and_cfg_path``) also insists on a folder,
``<dir>/<file>``, although its lookup that follows finds a file at the top of ``.mim/configs``
as well. mmsola's configs are flat (``configs/upernet_sola_t_ade20k.py``), so the check is
wrapped to let ``mmsola::<file>.py`` through; every other name (other packages', mmsola's
folder form) still goes through mmengine's own check unchanged.
"""
import functools
from typing import Tuple

import mmengine.config.config as config_module
import mmengine.hub.hub as hub_module
from mmengine.config import utils as config_utils

PACKAGE = 'mmsola'


@functools.wraps(config_utils._get_package_and_cfg_path)
def _package_and_cfg_path(cfg_path: str) -> Tuple[str, str]:
    """mmengine's check (``'pkg::dir/file.py'`` -> ``(distribution, 'dir/file.py')``), also
    taking ``'mmsola::file.py'``."""
    package, _, name = cfg_path.partition('::')
    if package == PACKAGE and name and '/' not in name and '::' not in name:
        return config_utils.MODULE2PACKAGE[PACKAGE], name
    return config_utils._get_package_and_cfg_path(cfg_path)


def register_config_package() -> None:
    """Make ``mmsola::`` base configs resolvable by mmengine's ``Config`` and
    ``mmengine.hub.get_config``, flat names included (idempotent)."""
    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
    # the two modules that imported mmengine's check by name, where it is looked up
    config_module._get_package_and_cfg_path = _package_and_cfg_path
    hub_module._get_package_and_cfg_path = _package_and_cfg_path
