"""ONNX export end to end: tools/deployment/export_onnx.py, run as a process, on the demo
UperNet-SoLA (a small SoLA-Vision with one block of each kind: linear 'L', softmax 'S', hybrid
'H'), then the file checked independently of the tool, against mmseg's own inference.

One export (the slow part) serves every test in this module.
"""
import copy
import sys

import pytest
import torch

from tests.support.paths import REPO_ROOT
from tests.support.small_models import randomize_
from tests.support.tool_runs import run_cli

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

CONFIG = str(REPO_ROOT / 'configs/demo/upernet_sola_demo.py')
PATTERN = ['L', 'S', 'H', 'L']  # one block per stage (the fewest), every kind
EXPORT_HW, ODD_HW = (64, 96), (200, 328)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def build_segmentor():
    from mmsola.checks.config import build_model, load_config
    cfg = load_config(CONFIG, {'model.backbone.arch.layer_pattern': PATTERN})
    return randomize_(build_model(cfg), seed=3).eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """Run the tool, as a process, on a checkpoint of :func:`build_segmentor`; return
    (onnx path, stdout)."""
    tmp = tmp_path_factory.mktemp('onnx')
    ckpt, out = tmp / 'upernet.pth', tmp / 'upernet.onnx'
    torch.save({'state_dict': build_segmentor().state_dict()}, ckpt)
    run = run_cli([
        sys.executable, 'tools/deployment/export_onnx.py', CONFIG, str(ckpt), '--cfg-options',
        'model.backbone.arch.layer_pattern=[L,S,H,L]', '--shape', *map(str, EXPORT_HW),
        '--verify-shape', *map(str, ODD_HW), '--out', str(out), '--repeats', '1',
        '--threads', '1'
    ])
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return out, run.stdout


def rel_error(ref: torch.Tensor, got: torch.Tensor) -> float:
    return ((ref.double() - got.double()).abs().max() / ref.double().abs().max()).item()


def test_tool_reports_errors_and_latency_at_two_sizes(exported):
    _, stdout = exported
    rows = [line.split() for line in stdout.splitlines()
            if line.strip().startswith(('64x96 ', '200x328 '))]
    assert [r[:2] for r in rows] == [['64x96', 'seg_logits'], ['200x328', 'seg_logits']]
    for size, _, max_abs, rel, torch_ms, ort_ms, _ in rows:
        assert float(rel) <= 1e-4 and float(max_abs) >= 0
        assert float(torch_ms) > 0 and float(ort_ms) > 0
    assert 'OK: every output within rel 0.0001' in stdout
    assert "'std': '[58.395, 57.12, 57.375]'" in stdout  # the preprocessing to apply


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
    assert [o.name for o in model.graph.output] == ['seg_logits']
    props = {p.key: p.value for p in model.metadata_props}
    assert props['mean'] == '[123.675, 116.28, 103.53]' and props['swap_bgr_rgb'] == 'True'
    assert props['model'] == f'EncoderDecoder from {CONFIG}'


@pytest.mark.parametrize('batch, hw', [(2, ODD_HW), (1, (97, 45))])
def test_onnxruntime_matches_mmseg_inference(exported, batch, hw):
    """Other batch sizes and odd, non-square sizes, against mmseg's own predict()."""
    path, _ = exported
    model = build_segmentor()
    x = torch.randn(batch, 3, *hw, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = torch.stack([s.seg_logits.data for s in model.predict(x)])
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    got = torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
    assert got.shape == ref.shape == (batch, 8, *hw)
    assert rel_error(ref, got) < 1e-4
    # the masks agree wherever the top two classes are not within the numerical error
    top2 = ref.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * (ref - got).abs().max()
    assert clear.float().mean() > 0.9
    assert torch.equal(got.argmax(1)[clear], ref.argmax(1)[clear])


def test_a_mismatch_is_an_error(exported):
    """verify_onnx compares with PyTorch for real: other weights -> OnnxMismatchError."""
    from mmsola.deploy import OnnxMismatchError, SegmentorLogits, verify_onnx
    path, _ = exported
    model = build_segmentor()
    verify_onnx(SegmentorLogits(model), str(path), ['seg_logits'], [(40, 72)], repeats=0,
                progress=False)
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.backbone.norm2.bias.add_(1e-2)  # the LayerNorm of the stage-3 map
    with pytest.raises(OnnxMismatchError,
                       match=r'within rel=0.0001.*: seg_logits at 40x72: rel='):
        verify_onnx(SegmentorLogits(changed), str(path), ['seg_logits'], [(40, 72)],
                    repeats=0, progress=False)
