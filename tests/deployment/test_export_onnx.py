"""ONNX export end to end: tools/deployment/export_onnx.py on a small SoLA-Vision with every
block kind ('L', 'S', 'H'), then the file checked independently of the tool.

One export (the slow part) serves every test in this module.
"""
import copy
import io
import sys

import pytest
import torch

from mmsola.models import SoLAVision
from tests.models.helpers import randomize_
from tests.script_loading import load_script

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

# tiny widths (64..512), four blocks (one per stage, the fewest): linear, softmax, hybrid.
PATTERN = 'L/S/H/L'
EXPORT_HW, ODD_HW = (64, 96), (200, 328)


def build_model() -> SoLAVision:
    model = SoLAVision('tiny', layer_pattern=PATTERN, out_indices=(0, 1, 2, 3))
    return randomize_(model, seed=3).eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """Run the tool on a checkpoint of :func:`build_model`; return (onnx path, stdout)."""
    tmp = tmp_path_factory.mktemp('onnx')
    ckpt, out = tmp / 'sola.pth', tmp / 'sola.onnx'
    torch.save({'state_dict': build_model().state_dict()}, ckpt)
    tool = load_script('tools/deployment/export_onnx.py')
    capture = pytest.MonkeyPatch()  # capsys is per test; this fixture is per module
    stdout = io.StringIO()
    capture.setattr(sys, 'stdout', stdout)
    try:
        rc = tool.main([
            '--arch', 'tiny', '--layer-pattern', PATTERN,
            str(ckpt), '--shape', *map(str, EXPORT_HW), '--verify-shape', *map(str, ODD_HW),
            '--out', str(out), '--repeats', '1', '--threads', '1'
        ])
    finally:
        capture.undo()
    assert rc == 0, stdout.getvalue()
    return out, stdout.getvalue()


def run_ort(path, x: torch.Tensor):
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return [torch.from_numpy(o) for o in session.run(None, {'input': x.numpy()})]


def rel_error(ref: torch.Tensor, got: torch.Tensor) -> float:
    return ((ref.double() - got.double()).abs().max() / ref.double().abs().max()).item()


def test_tool_reports_errors_and_latency_at_two_sizes(exported):
    _, stdout = exported
    rows = [line.split() for line in stdout.splitlines()
            if line.strip().startswith(('64x96', '200x328'))]
    assert {r[0] for r in rows} == {'64x96', '200x328'}
    assert {r[1] for r in rows} == {'stage0', 'stage1', 'stage2', 'stage3'}
    for size, _, max_abs, rel, torch_ms, ort_ms, _ in rows:
        assert float(rel) <= 1e-4 and float(max_abs) >= 0
        assert float(torch_ms) > 0 and float(ort_ms) > 0
    assert 'OK: every output within rel 0.0001' in stdout


def test_graph_is_standard_onnx_with_dynamic_batch_height_width(exported):
    path, _ = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    domains = {n.domain for n in model.graph.node}
    assert domains <= {'', 'ai.onnx'}, domains
    assert not model.functions
    ops = {n.op_type for n in model.graph.node}
    # the linear-attention op became standard ops (ELU features, in-graph RoPE angles), the
    # softmax blocks went through the exporter's attention path
    assert {'Elu', 'Range', 'Cos', 'Sin', 'Softmax'} <= ops
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ['batch', 3, 'height', 'width']
    assert [o.name for o in model.graph.output] == ['stage0', 'stage1', 'stage2', 'stage3']


@pytest.mark.parametrize('batch, hw', [(2, ODD_HW), (1, (97, 45))])
def test_onnxruntime_matches_pytorch_at_new_sizes(exported, batch, hw):
    """Independently of the tool: other batch sizes and odd, non-square sizes."""
    path, _ = exported
    model = build_model()
    x = torch.randn(batch, 3, *hw, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = model(x)
    got = run_ort(path, x)
    assert [tuple(g.shape) for g in got] == [tuple(r.shape) for r in ref]
    for r, g in zip(ref, got):
        assert rel_error(r, g) < 1e-4


def test_a_mismatch_is_an_error(exported):
    """verify_onnx compares with PyTorch for real: other weights -> OnnxMismatchError."""
    from mmsola.deploy import OnnxMismatchError, backbone_target, verify_onnx
    path, _ = exported
    model = build_model()
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.norm2.bias.add_(1e-2)  # the LayerNorm of the stage-2 output only
    target = backbone_target(model)
    verify_onnx(target, str(path), target.output_names, [(40, 72)], repeats=0,
                progress=False)
    target = backbone_target(changed)
    with pytest.raises(OnnxMismatchError, match=r'within rel=0.0001.*: stage2 at 40x72: rel=') \
            as exc:
        verify_onnx(target, str(path), target.output_names, [(40, 72)], repeats=0,
                    progress=False)
    assert 'stage3' not in str(exc.value)
