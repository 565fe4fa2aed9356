"""Bad input to every tool, in-process through its ``main()`` (the analysis tools':
tests/test_analysis/test_bad_input.py): a damaged, empty, non-dict or
hostile checkpoint; an output path that cannot be written; ``--cfg-options`` with a key the
config lacks or a value of the wrong type. Each ends with one message (``error: ...``), a
exit status of 2 (every tool), no traceback, and nothing written.
"""
import os
import re
from pathlib import Path

import pytest

from tests.support import tool_runs
from tests.support.bad_files import bad_checkpoints, hostile_ran
from tests.support.fake_data import write_ade20k, write_imagenet
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures('one_torch_thread')

IN1K = str(REPO_ROOT / 'configs/sola_t_in1k.py')
KINDS = ('empty', 'truncated', 'not_a_dict', 'hostile')

@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    return write_imagenet(tmp_path_factory.mktemp('data') / 'imagenet', num_classes=2,
                          per_class=1, size=(32, 32))


@pytest.fixture(scope='module')
def broken(tmp_path_factory):
    folder = tmp_path_factory.mktemp('broken')
    return folder, bad_checkpoints(folder)


def refused(name: str, argv, capsys, watched: Path, *words: str, status: int) -> str:
    """Run ``tools/<name>.py`` in-process; it must exit with ``status`` and one message
    holding ``words``, and leave ``watched`` as it was (absent stays absent)."""
    before = tool_runs.snapshot(watched) if watched.exists() else None
    capsys.readouterr()
    try:
        code = tool_runs.tool_main(name)([str(a) for a in argv])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    message = code if isinstance(code, str) else err
    code = 1 if isinstance(code, str) else code
    assert code == status, message
    found = re.search(r'^([\w.]+: )?error: ', message, re.MULTILINE)  # after any warnings
    assert found, message
    message = message[found.start():]
    assert 'Traceback' not in message
    for word in words:
        assert word in message, f'{word!r} not in:\n{message}'
    assert (tool_runs.snapshot(watched) if watched.exists() else None) == before
    return message


def _in1k_options(imagenet, work_dir, *extra):
    return ['--cfg-options', *tool_runs.tiny_options('configs/sola_t_in1k.py', imagenet,
                                                     work_dir, extra=extra)]


@pytest.fixture(scope='module')
def in1k_run(imagenet, tmp_path_factory):
    """``(options, work dir)`` of a tiny sola_t_in1k run, made once (the runs below stop
    before writing; each test checks that the work dir was not even created)."""
    work_dir = tmp_path_factory.mktemp('runs') / 'work'
    return _in1k_options(imagenet, work_dir), work_dir


# ------------------------------------------------------------------------------ checkpoints
def _checkpoint_calls(ckpt, imagenet, options, out: Path):
    """``(tool, argv, exit status)`` of every tool that reads a checkpoint."""
    image = next((imagenet / 'val').iterdir())
    return [
        ('train', [IN1K, '--resume', ckpt, *options], 2),
        ('test', [IN1K, ckpt, *options], 2),
        ('infer', [IN1K, ckpt, image, '--out-dir', out / 'infer'], 2),
        ('model_converters/cls2backbone', [ckpt, out / 'backbone.pth'], 2),
        ('model_converters/publish_model', [ckpt, out / 'published.pth'], 2),
    ]


@pytest.mark.parametrize('kind', KINDS)
def test_bad_checkpoint_in_every_tool(kind, broken, imagenet, in1k_run, tmp_path, capsys):
    folder, checkpoints = broken
    ckpt, words = checkpoints[kind]
    options, work_dir = in1k_run
    for name, argv, status in _checkpoint_calls(ckpt, imagenet, options, tmp_path):
        refused(name, argv, capsys, tmp_path, str(ckpt), *words, status=status)
    assert not hostile_ran(folder) and not work_dir.exists()


def test_bad_checkpoint_for_export_onnx(broken, tmp_path, capsys):
    for package in ('onnx', 'onnxruntime', 'onnxscript'):
        pytest.importorskip(package)
    folder, checkpoints = broken
    for ckpt, words in checkpoints.values():
        refused('deployment/export_onnx', ['--arch', 'tiny', ckpt, '--shape', '64', '64',
                                           '--out', tmp_path / 'x.onnx'],
                capsys, tmp_path, str(ckpt), *words, status=2)
    assert not hostile_ran(folder)


def test_bad_pretrained_backbone_and_load_from(broken, imagenet, tmp_path, capsys):
    folder, checkpoints = broken
    hostile, words = checkpoints['hostile']
    ade = write_ade20k(tmp_path / 'ade', num_train=1, num_val=1)
    options = [o for o in tool_runs.tiny_options('configs/upernet_sola_t_ade20k.py', ade,
                                                 tmp_path / 'work')
               if not o.startswith('model.backbone.init_cfg=')]
    refused('train', [REPO_ROOT / 'configs/upernet_sola_t_ade20k.py', '--cfg-options', *options,
                      f'model.backbone.init_cfg.checkpoint={hostile}'], capsys, tmp_path,
            f"model.backbone.init_cfg.checkpoint '{hostile}' was refused", *words, status=2)
    truncated, words = checkpoints['truncated']
    refused('train', [IN1K, *_in1k_options(imagenet, tmp_path / 'work', f'load_from={truncated}')],
            capsys, tmp_path, f"load_from '{truncated}'", *words, status=2)
    assert not hostile_ran(folder)


# ----------------------------------------------------------------------------- output paths
def test_output_path_that_cannot_be_created(broken, imagenet, tmp_path, capsys):
    """Every tool that writes, told to write under a regular file."""
    blocker = tmp_path / 'a_file'
    blocker.write_text('the user\'s file')
    under = blocker / 'out'
    ckpt = broken[1]['empty'][0]  # never read: the output path is checked first
    image = next((imagenet / 'val').iterdir())
    calls = [
        ('train', [IN1K, '--work-dir', under], 2),
        ('test', [IN1K, ckpt, '--work-dir', under], 2),
        ('test', [IN1K, ckpt, '--work-dir', tmp_path / 'work', '--out', under / 'p.pkl'], 2),
        ('infer', [IN1K, ckpt, image, '--out-dir', under], 2),
        ('deployment/export_onnx', ['--arch', 'tiny', '--shape', '64', '64', '--out',
                                    under / 'x.onnx'], 2),
        ('model_converters/cls2backbone', [ckpt, under / 'b.pth'], 2),
        ('model_converters/publish_model', [ckpt, under / 'p.pth'], 2),
    ]
    for name, argv, status in calls:
        refused(name, argv, capsys, tmp_path, f'{under}', 'cannot be created',
                f'{blocker} is a file', status=status)
    assert blocker.read_text() == 'the user\'s file'


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write in any folder')
def test_work_dir_in_a_read_only_folder(tmp_path, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused('train', [IN1K, '--work-dir', locked / 'work'], capsys, tmp_path,
                'cannot be written', f'may not write in {locked}', status=2)
    finally:
        locked.chmod(0o755)


# ----------------------------------------------------------------------------- cfg-options
def _has_deploy_deps() -> bool:
    import importlib.util
    return all(importlib.util.find_spec(p) for p in ('onnx', 'onnxruntime', 'onnxscript'))


def _cfg_option_calls(option: str, ckpt, image, out: Path):
    export = [('deployment/export_onnx', [IN1K, '--shape', '64', '64', '--out', out / 'x.onnx',
                                          '--cfg-options', option], 2)]
    return export * _has_deploy_deps() + [
        ('train', [IN1K, '--work-dir', out / 'work', '--cfg-options', option], 2),
        ('test', [IN1K, ckpt, '--work-dir', out / 'work', '--cfg-options', option], 2),
        ('infer', [IN1K, ckpt, image, '--out-dir', out / 'infer', '--cfg-options', option], 2),
    ]


@pytest.mark.parametrize('option, words', [
    ('train_cfg.max_epoch=3', ('--cfg-options train_cfg.max_epoch: the config has no '
                               'train_cfg.max_epoch', 'did you mean train_cfg.max_epochs?')),
    ('train_cfg.max_epochs=three', ('--cfg-options train_cfg.max_epochs=three: '
                                    'train_cfg.max_epochs is a number in the config (300)', )),
], ids=['unknown_key', 'wrong_type'])
def test_cfg_options_checked_in_every_tool(option, words, broken, imagenet, tmp_path, capsys):
    ckpt = broken[1]['empty'][0]  # never read: the config is checked first
    image = next((imagenet / 'val').iterdir())
    for name, argv, status in _cfg_option_calls(option, ckpt, image, tmp_path):
        refused(name, argv, capsys, tmp_path, *words, status=status)
