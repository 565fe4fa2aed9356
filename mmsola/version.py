"""mmsola's version and the versions of the OpenMMLab packages it supports.

This file imports nothing, so setup.py reads it before anything is installed.
"""
__version__ = "0.1.0"

# The one source of the supported ranges: mmsola.utils.version_check enforces it at import;
# pip reads the same ranges from requirements/runtime.txt (mmengine) and
# requirements/mminstall.txt (the toolkits), and tests/test_supported_versions.py checks those
# files, the README's and docs' tables and install commands against it.
# import name -> (distribution, lowest supported, first unsupported)
SUPPORTED_VERSIONS = {
    'mmengine': ('mmengine', '0.10.0', '0.11.0'),
    'mmcv': ('mmcv', '2.0.0', '2.2.0'),
    'mmdet': ('mmdet', '3.0.0', '3.4.0'),
    'mmseg': ('mmsegmentation', '1.0.0', '1.3.0'),
    'mmpretrain': ('mmpretrain', '1.0.0', '1.3.0'),
}


def requirement(name: str) -> str:
    """The pip requirement of a supported package, e.g. ``'mmsegmentation>=1.0.0,<1.3.0'``.

    Args:
        name: import name, a key of :data:`SUPPORTED_VERSIONS` (e.g. ``'mmseg'``).
    """
    dist, low, high = SUPPORTED_VERSIONS[name]
    return f'{dist}>={low},<{high}'
