"""mmsola refuses OpenMMLab versions it does not support, with a message that says how to fix it."""
import subprocess
import sys
import types

import pytest

from mmsola.utils import (
    IncompatibleVersionError,
    check_imported_versions,
    check_version,
    import_toolkit,
)


def test_unsupported_version_names_installed_and_supported():
    with pytest.raises(IncompatibleVersionError) as err:
        check_version('mmseg', '0.30.0')
    message = str(err.value)
    assert 'mmsegmentation 0.30.0 is installed' in message
    assert 'mmsegmentation>=1.0.0,<1.3.0' in message
    assert 'pip install' in message


@pytest.mark.parametrize('name, version', [('mmdet', '3.4.0'), ('mmcv', '2.2.0'),
                                           ('mmengine', '0.9.1'), ('mmpretrain', '0.25.0')])
def test_versions_outside_the_range_are_refused(name, version):
    with pytest.raises(IncompatibleVersionError, match=version.replace('.', r'\.')):
        check_version(name, version)


@pytest.mark.parametrize('name', ['mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpretrain'])
def test_the_pinned_stack_is_supported(name):
    module = import_toolkit(name)
    check_version(name, module.__version__)


def test_an_already_imported_toolkit_is_checked(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmdet', types.SimpleNamespace(__version__='2.28.2'))
    with pytest.raises(IncompatibleVersionError, match='mmdet 2.28.2 is installed'):
        check_imported_versions()


def test_a_missing_toolkit_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmpretrain', None)  # makes `import mmpretrain` fail
    with pytest.raises(ImportError, match=r'needs mmpretrain>=1\.0\.0,<1\.3\.0.*Install it'):
        import_toolkit('mmpretrain')


def test_importing_mmsola_after_an_old_toolkit_fails_clearly():
    code = ('import sys, types\n'
            "sys.modules['mmseg'] = types.SimpleNamespace(__version__='0.30.0')\n"
            'import mmsola\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'IncompatibleVersionError' in result.stderr
    assert 'mmsegmentation 0.30.0 is installed' in result.stderr
