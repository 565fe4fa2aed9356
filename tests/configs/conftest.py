"""Config tests: read the toolkits' metafiles once per session (see
:func:`tests.configs.helpers.metafiles_read_once`)."""
import pytest

from tests.configs.helpers import metafiles_read_once


@pytest.fixture(scope='session', autouse=True)
def _read_toolkit_metafiles_once():
    with metafiles_read_once():
        yield
