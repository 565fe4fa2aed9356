"""Bad input to tools/train.py and tools/test.py: one clear message before a Runner or any
weights are built, and the work dir keeps every file byte for byte.

The checks are the library's (:func:`mmsola.checks.check_run`, :func:`load_config`,
:func:`resolve_resume`), tested here in-process on the config as the tools merge it; what only
the tools do (``--auto-scale-lr``, ``--tta``, ``--out``) runs through their ``main``, and one
run of tools/train.py as a process shows the one line and exit status 2."""
import shutil
import sys
from pathlib import Path

import pytest
import torch

from mmsola.checks import (
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    LauncherError,
    check_run,
    load_config,
    model_shapes,
    resolve_resume,
)
from mmsola.checks.config import set_work_dir
from tests.support import tool_runs
from tests.support.fake_data import write_ade20k, write_coco, write_imagenet
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures('one_torch_thread')

UPERNET, MASK_RCNN, IN1K = ('configs/upernet_sola_t_ade20k.py',
                            'configs/mask_rcnn_sola_t_fpn_1x_coco.py', 'configs/sola_t_in1k.py')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    return {UPERNET: write_ade20k(root / 'ade', num_train=2, num_val=1),
            MASK_RCNN: write_coco(root / 'coco', num_train=2, num_val=1),
            IN1K: write_imagenet(root / 'imagenet', num_classes=2, per_class=1)}


@pytest.fixture(scope='module')
def shapes():
    """State-dict shapes of the UperNet and ImageNet models (from meta-device skeletons)."""
    return {c: model_shapes(load_config(str(REPO_ROOT / c))) for c in (UPERNET, IN1K)}


def _fake_checkpoint(path: Path, shapes: dict, **extra) -> Path:
    """A checkpoint with these keys and shapes; each tensor is one stored number."""
    state = {k: torch.zeros(1).expand(s) if s else torch.zeros(()) for k, s in shapes.items()}
    torch.save(dict(state_dict=state, **extra), path)
    return path


@pytest.fixture
def work_dir(tmp_path):
    """A work dir holding a user's earlier run."""
    work = tmp_path / 'work'
    (work / '20250101_000000').mkdir(parents=True)
    (work / '20250101_000000' / '20250101_000000.log').write_text('an earlier run\n')
    (work / 'iter_8.pth').write_bytes(b'not a real checkpoint, but the user\'s file')
    (work / 'last_checkpoint').write_text(str(work / 'iter_8.pth'))
    return work


def _config(config, data_root=None, work_dir=None, *extra: str, options=None):
    """The config as the tools merge it: ``--cfg-options`` of the tiny run on ``data_root``
    (or ``options``), then ``extra``; work_dir set."""
    if options is None:
        options = tool_runs.tiny_options(config, data_root, work_dir, extra=extra)
    cfg = load_config(str(REPO_ROOT / config), tool_runs.parsed_options(options))
    set_work_dir(cfg, None, config)
    return cfg


def _resumed(cfg, resume='auto'):
    """``--resume [CKPT]``: the checkpoint the run continues from (resolve_resume's)."""
    cfg.load_from, cfg.resume = resolve_resume(cfg, str(resume)), True
    return cfg


def _refused(error, call, work_dir: Path, *expected: str) -> str:
    """``call()`` must raise ``error`` with a message holding ``expected`` and leave
    ``work_dir`` unchanged. Returns the message."""
    before = tool_runs.snapshot(work_dir)
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for text in expected:
        assert text in message, f'{text!r} not in:\n{message}'
    assert tool_runs.snapshot(work_dir) == before
    return message


def _fails(tool: str, argv, work_dir: Path, *expected: str) -> str:
    """Run a tool's ``main`` in-process; it must exit with status 2 and one message holding
    ``expected`` and leave ``work_dir`` unchanged. Returns the message."""
    before = tool_runs.snapshot(work_dir)
    status, stderr = tool_runs.main(tool, argv)
    assert status == 2, stderr[-3000:]
    message = tool_runs.error_message(stderr, f'{tool}.py')
    assert message.startswith('error: ')
    for text in expected:
        assert text in message, f'{text!r} not in:\n{message}'
    assert tool_runs.snapshot(work_dir) == before
    return message


def _options(config, data_root, work_dir, *extra):
    return ['--cfg-options', *tool_runs.tiny_options(config, data_root, work_dir, extra=extra)]


@pytest.mark.parametrize('config, layout, how', [
    (UPERNET, 'ADE20KDataset expects', 'docs/en/user_guides/2_dataset_prepare.md'),
    (MASK_RCNN, 'CocoDataset expects', 'download_dataset.py --dataset-name coco2017'),
    (IN1K, 'ImageNet expects', 'docs/en/user_guides/dataset_prepare.md'),
], ids=['ade20k', 'coco', 'imagenet'])
def test_missing_dataset_names_path_layout_and_how_to_get_it(config, layout, how, work_dir,
                                                             tmp_path):
    nowhere = tmp_path / 'nowhere'
    cfg = _config(config, nowhere, work_dir)
    _refused(DatasetNotFoundError, lambda: check_run(cfg, 'train'), work_dir,
             'training data', f'{nowhere} (train_dataloader.dataset.data_root) does not exist',
             layout, how, 'train_dataloader.dataset.data_root=PATH')


def test_missing_image_folder_and_test_split(data, work_dir, tmp_path):
    root = Path(shutil.copytree(data[UPERNET], tmp_path / 'ade'))
    shutil.rmtree(root / 'images' / 'validation')
    cfg = _config(UPERNET, root, work_dir)
    _refused(DatasetNotFoundError, lambda: check_run(cfg, 'train'), work_dir,
             'validation data', f'{root}/images/validation '
             '(val_dataloader.dataset.data_prefix.img_path) does not exist')
    _refused(DatasetNotFoundError, lambda: check_run(cfg, 'test', str(work_dir / 'iter_8.pth')),
             work_dir, 'test data', f'{root}/images/validation')


def test_missing_checkpoints(data, work_dir, tmp_path):
    nope = tmp_path / 'nope.pth'
    cfg = _resumed(_config(IN1K, data[IN1K], work_dir), nope)
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir,
             f"--resume '{nope}': no such file")
    cfg = _config(IN1K, data[IN1K], work_dir, f'load_from={nope}')
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir,
             f"load_from '{nope}': no such file")
    cfg = _config(IN1K, data[IN1K], work_dir)
    _refused(CheckpointError, lambda: check_run(cfg, 'test', str(nope)), work_dir,
             f"checkpoint '{nope}': no such file")
    options = [o for o in tool_runs.tiny_options(UPERNET, data[UPERNET], work_dir)
               if not o.startswith('model.backbone.init_cfg=')]
    cfg = _config(UPERNET, options=[*options, f'model.backbone.init_cfg.checkpoint={nope}'])
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir,
             f"model.backbone.init_cfg.checkpoint='{nope}': no such file",
             'tools/model_converters/cls2backbone.py', 'model.backbone.init_cfg=None')


def test_checkpoints_that_do_not_fit(data, shapes, work_dir, tmp_path):
    in1k = _fake_checkpoint(tmp_path / 'in1k.pth', shapes[IN1K])
    cfg = _config(UPERNET, data[UPERNET], work_dir)
    message = _refused(CheckpointError, lambda: check_run(cfg, 'test', str(in1k)), work_dir,
                       f"checkpoint '{in1k}' does not fit the model",
                       'missing: backbone.norm0.weight', 'decode_head: ', 'auxiliary_head: ',
                       'unexpected: head.fc.weight, head.fc.bias [head: 2]')
    assert message.count('\n') < 8  # a few keys of each, not hundreds

    classes_19 = dict(shapes[UPERNET], **{'decode_head.conv_seg.weight': (19, 512, 1, 1),
                                          'decode_head.conv_seg.bias': (19, )})
    other = _fake_checkpoint(tmp_path / 'cityscapes.pth', classes_19)
    cfg = _config(UPERNET, data[UPERNET], work_dir, f'load_from={other}')
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir, "load_from '",
             '0 missing, 0 unexpected, 2 of another shape',
             'decode_head.conv_seg.weight: checkpoint (19, 512, 1, 1) vs model (150, 512, 1, 1)')

    # a whole training state (iteration, optimizer), but of the classifier
    in1k_run = _fake_checkpoint(tmp_path / 'epoch_3.pth', shapes[IN1K], meta=dict(epoch=3, iter=9),
                                optimizer=dict(state={}, param_groups=[]))
    cfg = _resumed(_config(UPERNET, data[UPERNET], work_dir), in1k_run)
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir,
             f"--resume '{in1k_run}' does not fit the model", 'unexpected: head.fc.weight')

    weights_only = _fake_checkpoint(tmp_path / 'published.pth', shapes[UPERNET])
    cfg = _resumed(_config(UPERNET, data[UPERNET], work_dir), weights_only)
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir,
             'holds weights but not the training state', f'load_from={weights_only}')


def test_resume_from_work_dir_whose_latest_checkpoint_is_broken_or_gone(data, work_dir):
    # last_checkpoint names the user's iter_8.pth, which is not a checkpoint
    cfg = _resumed(_config(IN1K, data[IN1K], work_dir))
    _refused(CheckpointError, lambda: check_run(cfg, 'train'), work_dir, "--resume '",
             "iter_8.pth' is not a checkpoint written by torch.save")
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_9.pth'))
    cfg = _config(IN1K, data[IN1K], work_dir)
    _refused(CheckpointError, lambda: _resumed(cfg), work_dir,
             'iter_9.pth', 'which does not exist', "['iter_8.pth']")


def test_config_problems(work_dir, tmp_path):
    unknown = tmp_path / 'unknown_scope.py'
    unknown.write_text("default_scope = 'mmfoo'\n"
                       "custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)\n"
                       "model = dict(type='SoLAVision')\n")
    _refused(ConfigError, lambda: load_config(str(unknown)), work_dir,
             "has default_scope='mmfoo'", "'mmdet'", "'mmseg'", "'mmpretrain'")
    no_import = tmp_path / 'no_import.py'
    no_import.write_text("_base_ = ['mmseg::_base_/default_runtime.py']\n"
                         "model = dict(type='EncoderDecoder', backbone=dict(type='SoLAVision'))\n")
    _refused(ConfigError, lambda: load_config(str(no_import)), work_dir,
             'does not import mmsola', "custom_imports = dict(imports=['mmsola']")
    _refused(ConfigError, lambda: load_config(str(tmp_path / 'missing.py')), work_dir,
             'does not exist', 'configs/')


def test_launcher_and_flag_problems(data, work_dir, monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    cfg = _config(IN1K, data[IN1K], work_dir)
    _refused(LauncherError, lambda: check_run(cfg, 'train', launcher='pytorch'), work_dir,
             '--launcher pytorch needs the environment', 'RANK', 'tools/dist_train.sh')
    # what the tools themselves add to the config
    _fails('train', [REPO_ROOT / IN1K, '--auto-scale-lr',
                     *_options(IN1K, data[IN1K], work_dir, 'auto_scale_lr=None')], work_dir,
           '--auto-scale-lr', 'auto_scale_lr.base_batch_size')

    ckpt = work_dir / 'iter_8.pth'  # the TTA check comes first
    _fails('test', [REPO_ROOT / MASK_RCNN, ckpt, '--tta',
                    *_options(MASK_RCNN, data[MASK_RCNN], work_dir)], work_dir,
           '--tta', 'has no tta_model and no tta_pipeline')
    with pytest.raises(SystemExit) as exit_info:  # argparse: usage and exit status 2
        tool_runs.tool_main('test')([str(REPO_ROOT / IN1K), str(ckpt), '--out', 'p.json'])
    assert exit_info.value.code == 2


@pytest.mark.parametrize('tool, args, message', [
    ('train', [], 'the training data of'),
    ('test', ['iter_8.pth'], 'the test data of'),
])
def test_command_line_prints_one_message_and_exits_2(tool, args, message, work_dir, tmp_path):
    before = tool_runs.snapshot(work_dir)
    run = tool_runs.run_cli([sys.executable, f'tools/{tool}.py', UPERNET,
                             *[str(work_dir / a) for a in args],
                             *_options(UPERNET, tmp_path / 'nowhere', work_dir)])
    assert run.returncode == 2
    assert run.stderr.startswith(f'{tool}.py: error: {message}') or \
        f'\n{tool}.py: error: {message}' in run.stderr
    assert 'Traceback' not in run.stderr
    assert tool_runs.snapshot(work_dir) == before
