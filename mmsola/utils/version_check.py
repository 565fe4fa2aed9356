"""Checks that the OpenMMLab packages mmsola works with are of a supported version.

mmengine is required and checked when mmsola is imported. The toolkits (mmcv, mmdet, mmseg,
mmpretrain) are optional: each is checked when it is imported through :func:`import_toolkit`,
and those a toolkit's entry point imported before mmsola (the usual ``custom_imports`` path)
are checked at mmsola's import.
"""
import importlib
import sys
from types import ModuleType

from mmengine.utils import digit_version

# the table lives in mmsola/version.py, which setup.py reads too (one source of the ranges)
from ..version import SUPPORTED_VERSIONS, requirement


class IncompatibleVersionError(ImportError):
    """An installed OpenMMLab package is outside the range mmsola supports."""


def check_version(name: str, installed: str) -> None:
    """Raise :class:`IncompatibleVersionError` if ``installed`` is unsupported for ``name``.

    Args:
        name: import name, a key of :data:`SUPPORTED_VERSIONS` (e.g. ``'mmseg'``).
        installed: the installed version string, e.g. ``'1.2.2'``.
    """
    dist, low, high = SUPPORTED_VERSIONS[name]
    if not digit_version(low) <= digit_version(installed) < digit_version(high):
        raise IncompatibleVersionError(
            f'mmsola supports {requirement(name)}, but {dist} {installed} is installed. '
            f'Install a supported version, e.g. `pip install "{requirement(name)}"` '
            f'(the tested pins are in requirements/pinned.txt).')


def check_imported_versions() -> None:
    """Check mmengine and every supported toolkit that is already imported."""
    for name in SUPPORTED_VERSIONS:
        module = importlib.import_module(name) if name == 'mmengine' else sys.modules.get(name)
        if module is not None and hasattr(module, '__version__'):
            check_version(name, module.__version__)


def import_toolkit(name: str) -> ModuleType:
    """Import an OpenMMLab toolkit by import name, checking its version.

    Raises:
        ImportError: the toolkit is not installed (the message says how to install it).
        IncompatibleVersionError: it is installed in an unsupported version.
    """
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        raise ImportError(f'this part of mmsola needs {requirement(name)}, which is not '
                          f'importable ({err}). Install it, e.g. `pip install -e ".[mm]"` '
                          'or `make test` (see README).') from err
    check_version(name, module.__version__)
    return module
