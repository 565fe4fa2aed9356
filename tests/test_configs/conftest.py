"""Config tests: read the toolkits' metafiles once per session (see
:func:`tests.support.configs.metafiles_read_once`), and run the models on one torch thread
(on a shared, busy machine two threads per process thrash: measured 3x slower)."""
import pytest

from tests.support.configs import metafiles_read_once


@pytest.fixture(scope='session', autouse=True)
def _read_toolkit_metafiles_once():
    with metafiles_read_once():
        yield


@pytest.fixture(scope='module', autouse=True)
def _one_thread(one_torch_thread):
    yield
