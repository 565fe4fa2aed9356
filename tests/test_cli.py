"""The tools' exit-status convention (mmsola.cli.run_tool): an mmsola user error prints one
``<tool>.py: error:`` line and exits 2; anything else, a plain ValueError of a bug too, keeps
its traceback."""
import os
import subprocess
import sys

import pytest

from mmsola.checks import CheckpointError, ConfigError, DatasetNotFoundError, LauncherError
from mmsola.cli import run_tool
from mmsola.convert import ConversionError
from mmsola.errors import UserError
from mmsola.utils import ImageFileError, OutputPathError
from tests.support.paths import REPO_ROOT
from tests.support.tool_runs import load_tool


def _raise(err: BaseException):
    def work(*args, **kwargs):
        raise err
    return work


@pytest.mark.parametrize('error', [
    UserError('bad input'), ConfigError('bad input'), CheckpointError('bad input'),
    DatasetNotFoundError('bad input'), LauncherError('bad input'), OutputPathError('bad input'),
    ImageFileError('bad input'), ConversionError('bad input')
], ids=lambda e: type(e).__name__)
def test_user_error_is_one_line_and_status_2(error, capsys):
    assert run_tool('tool.py', _raise(error)) == 2
    assert capsys.readouterr().err == 'tool.py: error: bad input\n'


@pytest.mark.parametrize('error', [ValueError('a bug'), FileNotFoundError('a bug'),
                                   KeyError('a bug'), RuntimeError('a bug')],
                         ids=lambda e: type(e).__name__)
def test_other_errors_propagate(error, capsys):
    with pytest.raises(type(error)):
        run_tool('tool.py', _raise(error))
    assert 'error:' not in capsys.readouterr().err


def test_inside_a_tool(monkeypatch, tmp_path, capsys):
    """publish_model.py's work raising a user error, then a bug's ValueError."""
    tool = load_tool('model_converters/publish_model')
    argv = [str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth')]
    monkeypatch.setattr(tool, 'publish', _raise(ConversionError('IN is not a checkpoint')))
    assert tool.main(argv) == 2
    assert capsys.readouterr().err == 'publish_model.py: error: IN is not a checkpoint\n'
    monkeypatch.setattr(tool, 'publish', _raise(ValueError('a bug')))
    with pytest.raises(ValueError, match='a bug'):
        tool.main(argv)


def test_a_bug_in_a_tool_process_keeps_its_traceback(tmp_path):
    """As a process: a plain ValueError from inside the tool's work ends with Python's
    traceback and exit status 1, not the one-line user error."""
    code = ('import runpy, sys, mmsola.convert.publish\n'
            'def publish(src, out):\n'
            "    raise ValueError('a bug in publish')\n"
            "sys.modules['mmsola.convert.publish'].publish = publish\n"
            "runpy.run_path('tools/model_converters/publish_model.py', run_name='__main__')\n")
    done = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'in.pth'),
                           str(tmp_path / 'out.pth')], cwd=REPO_ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert done.returncode == 1
    assert 'Traceback (most recent call last)' in done.stderr
    assert done.stderr.rstrip().endswith('ValueError: a bug in publish')
    assert 'publish_model.py: error:' not in done.stderr


def test_a_user_error_in_a_tool_process_is_one_line_and_status_2(tmp_path):
    done = subprocess.run([sys.executable, 'tools/model_converters/publish_model.py',
                           str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth')], cwd=REPO_ROOT,
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert done.returncode == 2
    assert done.stderr.startswith(f"publish_model.py: error: IN '{tmp_path / 'in.pth'}': "
                                  'no such file')
    assert done.stderr.count('\n') == 1 and 'Traceback' not in done.stderr
