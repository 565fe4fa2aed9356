"""Bad input to the analysis tools (erf, inference_speed, get_flops, pattern_sweep,
speed_vs_resolution): a damaged, empty, non-dict or hostile checkpoint; an output path that
cannot be written; ``--cfg-options`` with a key the config lacks or a value of the wrong type;
arguments that cannot work. The library check refuses each with a message that says what to
fix, before anything is built or written; each tool, run as a process, turns that into one
``<tool>.py: error:`` line, exit status 2 and no traceback.
"""
import sys
from pathlib import Path

import pytest

from mmsola.analysis.erf import ImageSource, model_list, read_weights
from mmsola.analysis.flops import report_config
from mmsola.analysis.inference_speed import measure_inference_speed
from mmsola.checks import CheckpointError, ConfigError
from mmsola.utils import OutputPathError, check_writable
from tests.support.bad_files import bad_checkpoints, hostile_ran
from tests.support.paths import REPO_ROOT
from tests.support.tool_runs import load_tool, run_cli, snapshot

pytestmark = pytest.mark.usefixtures('one_torch_thread')
Settings = load_tool('analysis/speed_vs_resolution').Settings

IN1K = str(REPO_ROOT / 'configs/sola_t_in1k.py')
KINDS = ('empty', 'truncated', 'not_a_dict', 'hostile')


@pytest.fixture(scope='module')
def broken(tmp_path_factory):
    folder = tmp_path_factory.mktemp('broken')
    return folder, bad_checkpoints(folder)


def refused(tool: str, argv, watched: Path, *words: str) -> str:
    """Run ``tools/analysis/<tool>.py`` as a process: exit status 2, one error line holding
    ``words``, no traceback, and ``watched`` left as it was. Returns the line."""
    before = snapshot(watched)
    done = run_cli([sys.executable, f'tools/analysis/{tool}.py', *map(str, argv)])
    assert done.returncode == 2, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f'{tool}.py: error: '), done.stderr[-3000:]
    assert 'Traceback' not in done.stderr
    for word in words:
        assert word in line, f'{word!r} not in:\n{line}'
    assert snapshot(watched) == before
    return line


# ------------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize('kind', KINDS)
def test_bad_checkpoint_is_refused_before_anything_runs(kind, broken):
    """The checks erf.py and inference_speed.py run on ``--checkpoint`` / CKPT."""
    folder, checkpoints = broken
    ckpt, words = checkpoints[kind]
    with pytest.raises(CheckpointError) as erf_error:
        read_weights([str(ckpt)])
    with pytest.raises(CheckpointError) as speed_error:
        measure_inference_speed(IN1K, str(ckpt), synthetic=True, warmup=0, repeats=1)
    for message in (str(erf_error.value), str(speed_error.value)):
        for word in (str(ckpt), *words):
            assert word in message, f'{word!r} not in:\n{message}'
    assert not hostile_ran(folder)


def test_bad_checkpoint_in_the_tools(broken, tmp_path):
    folder, checkpoints = broken
    ckpt, words = checkpoints['truncated']
    refused('erf', ['--checkpoint', ckpt, '--size', '32', '--num-images', '1', '--out-dir',
                    tmp_path / 'erf'], tmp_path, str(ckpt), *words)
    ckpt, words = checkpoints['hostile']
    refused('inference_speed', [IN1K, ckpt, '--synthetic', '--out', tmp_path / 'speed.json'],
            tmp_path, str(ckpt), *words)
    assert not hostile_ran(folder)


# ----------------------------------------------------------------------------- output paths
def test_output_path_that_cannot_be_created(tmp_path):
    """Every analysis tool that writes, told to write under a regular file."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('the user\'s file')
    under = blocker / 'out'
    words = (f'{under}', 'cannot be created', f'{blocker} is a file')
    with pytest.raises(OutputPathError) as error:
        check_writable(str(under), '--out-dir')
    assert all(word in str(error.value) for word in words), str(error.value)
    calls = [
        ('inference_speed', [IN1K, '--synthetic', '--out', under / 'speed.json']),
        ('erf', ['--out-dir', under]),
        ('pattern_sweep', ['--softmax-blocks', '1', '--out-dir', under]),
        ('speed_vs_resolution', ['--arch', 'tiny', '--out-dir', under]),
    ]
    for tool, argv in calls:
        refused(tool, argv, tmp_path, *words)
    assert blocker.read_text() == 'the user\'s file'


# --------------------------------------------------------------------------- other arguments
def test_bad_arguments_are_refused_before_building(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ImageSource(str(tmp_path / 'nope'), 50, 1024)  # erf.py --images
    with pytest.raises(ValueError, match='2 checkpoints for 3 models'):
        model_list(None, True, ['a.pth', 'b.pth'], ['L', 'L', 'LS', 'S'])  # erf.py --compare
    with pytest.raises(ValueError, match="'mps' is not supported"):
        Settings(device='mps')  # speed_vs_resolution.py --device
    refused('erf', ['--images', tmp_path / 'nope', '--out-dir', tmp_path / 'out'], tmp_path,
            'does not exist')


# ----------------------------------------------------------------------------- cfg-options
@pytest.mark.parametrize('option, words', [
    ({'train_cfg.max_epoch': 3}, ('--cfg-options train_cfg.max_epoch: the config has no '
                                  'train_cfg.max_epoch', 'did you mean train_cfg.max_epochs?')),
    ({'train_cfg.max_epochs': 'three'}, ('--cfg-options train_cfg.max_epochs=three: '
                                         'train_cfg.max_epochs is a number in the config (300)',
                                         )),
], ids=['unknown_key', 'wrong_type'])
def test_cfg_options_checked(option, words, tmp_path):
    """inference_speed.py and get_flops.py load the config through the same check."""
    with pytest.raises(ConfigError) as speed_error:
        measure_inference_speed(IN1K, cfg_options=option, synthetic=True)
    with pytest.raises(ConfigError) as flops_error:
        report_config(IN1K, None, option)
    for message in (str(speed_error.value), str(flops_error.value)):
        for word in words:
            assert word in message, f'{word!r} not in:\n{message}'


def test_cfg_options_in_the_tool(tmp_path):
    refused('get_flops', ['--config', IN1K, '--cfg-options', 'train_cfg.max_epoch=3'], tmp_path,
            'the config has no train_cfg.max_epoch')
