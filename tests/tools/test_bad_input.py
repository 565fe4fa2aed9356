"""Bad input to tools/train.py and tools/test.py: one clear message and a non-zero exit before
a Runner or any weights are built, and the work dir keeps every file byte for byte."""
import shutil
import sys
from pathlib import Path

import pytest
import torch

from mmsola.apis import load_config, model_shapes
from tests.paths import REPO_ROOT
from tests.tools import tool_runs
from tests.tools.fake_data import write_ade20k, write_coco, write_imagenet

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


def _fails(tool: str, argv, work_dir: Path, *expected: str) -> str:
    """Run a tool in-process; it must exit with status 2 and a message holding ``expected``
    and leave ``work_dir`` unchanged. Returns the message."""
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
    _fails('train', [REPO_ROOT / config, *_options(config, nowhere, work_dir)], work_dir,
           'training data', f'{nowhere} (train_dataloader.dataset.data_root) does not exist',
           layout, how, 'train_dataloader.dataset.data_root=PATH')


def test_missing_image_folder_and_test_split(data, work_dir, tmp_path):
    root = Path(shutil.copytree(data[UPERNET], tmp_path / 'ade'))
    shutil.rmtree(root / 'images' / 'validation')
    _fails('train', [REPO_ROOT / UPERNET, *_options(UPERNET, root, work_dir)], work_dir,
           'validation data', f'{root}/images/validation '
           '(val_dataloader.dataset.data_prefix.img_path) does not exist')
    _fails('test', [REPO_ROOT / UPERNET, work_dir / 'iter_8.pth',
                    *_options(UPERNET, root, work_dir)], work_dir,
           'test data', f'{root}/images/validation')


def test_missing_checkpoints(data, work_dir, tmp_path):
    nope = tmp_path / 'nope.pth'
    _fails('train', [REPO_ROOT / IN1K, '--resume', nope, *_options(IN1K, data[IN1K], work_dir)],
           work_dir, f"--resume '{nope}': no such file")
    _fails('train', [REPO_ROOT / IN1K, *_options(IN1K, data[IN1K], work_dir, f'load_from={nope}')],
           work_dir, f"load_from '{nope}': no such file")
    _fails('test', [REPO_ROOT / IN1K, nope, *_options(IN1K, data[IN1K], work_dir)], work_dir,
           f"checkpoint '{nope}': no such file")
    options = [o for o in tool_runs.tiny_options(UPERNET, data[UPERNET], work_dir)
               if not o.startswith('model.backbone.init_cfg=')]
    _fails('train', [REPO_ROOT / UPERNET, '--cfg-options', *options,
                     f'model.backbone.init_cfg.checkpoint={nope}'], work_dir,
           f"model.backbone.init_cfg.checkpoint='{nope}': no such file",
           'tools/model_converters/cls2backbone.py', 'model.backbone.init_cfg=None')


def test_checkpoints_that_do_not_fit(data, shapes, work_dir, tmp_path):
    in1k = _fake_checkpoint(tmp_path / 'in1k.pth', shapes[IN1K])
    message = _fails('test', [REPO_ROOT / UPERNET, in1k,
                              *_options(UPERNET, data[UPERNET], work_dir)], work_dir,
                     f"checkpoint '{in1k}' does not fit the model",
                     'missing: backbone.norm0.weight', 'decode_head: ', 'auxiliary_head: ',
                     'unexpected: head.fc.weight, head.fc.bias [head: 2]')
    assert message.count('\n') < 8  # a few keys of each, not hundreds

    classes_19 = dict(shapes[UPERNET], **{'decode_head.conv_seg.weight': (19, 512, 1, 1),
                                          'decode_head.conv_seg.bias': (19, )})
    other = _fake_checkpoint(tmp_path / 'cityscapes.pth', classes_19)
    _fails('train', [REPO_ROOT / UPERNET,
                     *_options(UPERNET, data[UPERNET], work_dir, f'load_from={other}')],
           work_dir, "load_from '", '0 missing, 0 unexpected, 2 of another shape',
           'decode_head.conv_seg.weight: checkpoint (19, 512, 1, 1) vs model (150, 512, 1, 1)')

    # a whole training state (iteration, optimizer), but of the classifier
    in1k_run = _fake_checkpoint(tmp_path / 'epoch_3.pth', shapes[IN1K], meta=dict(epoch=3, iter=9),
                                optimizer=dict(state={}, param_groups=[]))
    _fails('train', [REPO_ROOT / UPERNET, '--resume', in1k_run,
                     *_options(UPERNET, data[UPERNET], work_dir)], work_dir,
           f"--resume '{in1k_run}' does not fit the model", 'unexpected: head.fc.weight')

    weights_only = _fake_checkpoint(tmp_path / 'published.pth', shapes[UPERNET])
    _fails('train', [REPO_ROOT / UPERNET, '--resume', weights_only,
                     *_options(UPERNET, data[UPERNET], work_dir)], work_dir,
           'holds weights but not the training state', f'load_from={weights_only}')


def test_resume_from_work_dir_whose_latest_checkpoint_is_broken_or_gone(data, work_dir):
    # last_checkpoint names the user's iter_8.pth, which is not a checkpoint
    _fails('train', [REPO_ROOT / IN1K, '--resume', *_options(IN1K, data[IN1K], work_dir)],
           work_dir, "--resume '", "iter_8.pth' is not a checkpoint written by torch.save")
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_9.pth'))
    _fails('train', [REPO_ROOT / IN1K, '--resume', *_options(IN1K, data[IN1K], work_dir)],
           work_dir, 'iter_9.pth', 'which does not exist', "['iter_8.pth']")


def test_config_problems(work_dir, tmp_path):
    unknown = tmp_path / 'unknown_scope.py'
    unknown.write_text("default_scope = 'mmfoo'\n"
                       "custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)\n"
                       "model = dict(type='SoLAVision')\n")
    _fails('train', [unknown, '--work-dir', work_dir], work_dir,
           "has default_scope='mmfoo'", "'mmdet'", "'mmseg'", "'mmpretrain'")
    no_import = tmp_path / 'no_import.py'
    no_import.write_text("_base_ = ['mmseg::_base_/default_runtime.py']\n"
                         "model = dict(type='EncoderDecoder', backbone=dict(type='SoLAVision'))\n")
    _fails('test', [no_import, work_dir / 'iter_8.pth', '--work-dir', work_dir], work_dir,
           'does not import mmsola', "custom_imports = dict(imports=['mmsola']")
    _fails('train', [tmp_path / 'missing.py'], work_dir, 'does not exist', 'configs/')


def test_launcher_and_flag_problems(data, work_dir, monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    options = _options(IN1K, data[IN1K], work_dir)
    _fails('train', [REPO_ROOT / IN1K, '--launcher', 'pytorch', *options], work_dir,
           '--launcher pytorch needs the environment', 'RANK', 'tools/dist_train.sh')
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


def test_command_line_prints_one_message_and_exits_2(work_dir, tmp_path):
    run = tool_runs.run_cli([sys.executable, 'tools/train.py', UPERNET,
                             *_options(UPERNET, tmp_path / 'nowhere', work_dir)])
    assert run.returncode == 2
    assert run.stderr.startswith('train.py: error: the training data of') or \
        '\ntrain.py: error: the training data of' in run.stderr
    assert 'Traceback' not in run.stderr
