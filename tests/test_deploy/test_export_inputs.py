"""export_onnx.py's command line (tools/deployment/export_onnx.py, in-process) on bad input and
missing optional dependencies, and the export wrappers' outputs against the toolkits' own
inference (no ONNX export here: these tests are fast)."""
import builtins
import subprocess
import sys

import pytest
import torch

from mmsola.models import SoLAVision
from tests.support.paths import REPO_ROOT

DEPLOY_PACKAGES = ('onnx', 'onnxruntime', 'onnxscript')


@pytest.fixture(scope='module')
def tool():
    """tools/deployment/export_onnx.py's command line (parse_args, main), in this process."""
    from tests.support.tool_runs import load_tool
    return load_tool('deployment/export_onnx')


def test_import_mmsola_needs_no_onnx():
    code = ('import sys, mmsola, mmsola.deploy, mmsola.deploy.targets; '
            f'print([m for m in {DEPLOY_PACKAGES!r} if m in sys.modules])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT)
    assert out.stdout.strip().splitlines()[-1] == '[]'


@pytest.mark.parametrize('package', DEPLOY_PACKAGES)
def test_missing_dependency_says_how_to_install(tool, package, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, package, None)  # `import package` now fails
    rc = tool.main(['--arch', 'tiny', '--shape', '64', '64', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert rc == 2
    assert f'missing: {package} (' in err
    assert 'pip install "mmsola[deploy]"' in err
    assert not (tmp_path / 'x.onnx').exists()


def test_missing_dependency_through_import_hook(monkeypatch):
    """The library entry points raise MissingDeployDependency, naming every missing package."""
    from mmsola.deploy import MissingDeployDependency, export_onnx
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name.split('.')[0] in ('onnxscript', 'onnxruntime'):
            raise ImportError(f'No module named {name!r} (blocked by the test)')
        return real_import(name, *args, **kwargs)

    for name in ('onnxscript', 'onnxruntime'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(builtins, '__import__', blocked)
    with pytest.raises(MissingDeployDependency, match=r'missing: onnxruntime .*onnxscript .*'
                       r'pip install "mmsola\[deploy\]"'):
        export_onnx(torch.nn.Identity(), (64, 64), 'unused.onnx', ['out'])


@pytest.mark.parametrize('argv, message', [
    ([], 'give a CONFIG file or --arch'),
    (['--arch', 'tiny', 'a.pth', 'b.pth'], 'too many positional arguments'),
    (['configs/sola_t_in1k.py', '--layer-pattern', 'L/L/L/L'], '--layer-pattern and --hsb go '
     'with --arch'),
    (['--arch', 'tiny', 'missing.pth'], "checkpoint 'missing.pth' does not exist"),
    (['--arch', 'tiny', '--shape', '32', '64'], '--shape needs H and W >= 33'),
])
def test_bad_arguments(tool, argv, message, capsys):
    argv = argv + ([] if '--shape' in argv else ['--shape', '64', '64']) + ['--out', 'x.onnx']
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_checkpoint_of_another_model_is_refused(tool, tmp_path, capsys):
    ckpt = tmp_path / 'small.pth'
    small = SoLAVision('tiny', embed_dims=16, layer_pattern='L/L/L/L')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in small.state_dict().items()}},
               ckpt)
    rc = tool.main(['--arch', 'tiny', '--layer-pattern', 'L/L/L/L', str(ckpt), '--shape', '64',
                    '64', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert rc == 2
    assert f'checkpoint {ckpt} does not fit SoLAVision' in err
    assert "prefix='backbone.'" in err and 'shape mismatches' in err
    assert 'stem.conv1.0.weight: checkpoint (8, 3, 3, 3) vs model (32, 3, 3, 3)' in err


def test_detector_says_what_blocks_it(tool, capsys, tmp_path):
    rc = tool.main([str(REPO_ROOT / 'configs/mask_rcnn_sola_t_fpn_1x_coco.py'), '--shape', '64',
                    '64', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err
    assert rc == 2
    assert 'Mask R-CNN' in err and '--part features' in err
    for blocker in ('nms', 'RoIAlign'):
        assert blocker in err


def test_classifier_scores_are_mmpretrains_prediction():
    """The exported classifier graph computes what mmpretrain's predict() returns."""
    from mmsola.checks.config import build_model, load_config
    from mmsola.deploy.targets import ClassifierScores, config_target
    cfg = load_config(str(REPO_ROOT / 'configs/sola_t_in1k.py'), {
        'model.backbone.layer_pattern': 'L/L/S/H', 'model.backbone.embed_dims': 16})
    model = build_model(cfg)
    target = config_target(model, 'mmpretrain')
    assert isinstance(target, ClassifierScores) and target.output_names == ['scores']
    x = torch.randn(2, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scores = target(x)
        ref = torch.stack([s.pred_score for s in model.predict(x)])
    assert scores.shape == (2, 1000)
    torch.testing.assert_close(scores, ref)
