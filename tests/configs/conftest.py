"""Config tests: memoise mmengine's reads of the toolkits' metafiles for the session.

mmengine resolves every ``mmdet::`` / ``mmseg::`` / ``mmpretrain::`` base config by first
reading all of that toolkit's model metafiles (about 400 YAML files, ~1 s per base file). The
files do not change during a test session, so the tests read each one once: loading the
shipped configs then costs well under a second each instead of ~3 s. What mmengine does with
the files is unchanged.
"""
import functools

import pytest


@pytest.fixture(scope='session', autouse=True)
def _read_toolkit_metafiles_once():
    from mmengine.config import utils

    original = utils.load
    cached_read = functools.lru_cache(maxsize=None)(original)

    def load(file, *args, **kwargs):
        if isinstance(file, str) and file.endswith(('.yml', '.yaml')) and not args \
                and not kwargs:
            return cached_read(file)
        return original(file, *args, **kwargs)

    utils.load = load
    yield
    utils.load = original
