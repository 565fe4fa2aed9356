"""The ONNX translations of the 2-D RoPE: the 'L' core (the linear-attention op's ONNX
function) and the 'S' core (RoPE traced into the graph), exported once and run in ONNX Runtime,
against their formulas in float64 (tests/test_models/test_attention.py), at an odd N on a
non-square grid with 3 heads (the middle one turns with both axes)."""
import pytest
import torch
from torch import nn

from mmsola.models.backbones.attention import LinearAttentionCore, SoftmaxAttentionCore
from tests.test_models.test_attention import linear_reference, softmax_reference

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

HW, CHANNELS, HEADS = (5, 7), 48, 3

pytestmark = pytest.mark.usefixtures('one_torch_thread')


class BothCores(nn.Module):
    """(B, N, C) tokens of the grid HW -> the 'L' and the 'S' core's outputs."""

    def __init__(self):
        super().__init__()
        self.cores = nn.ModuleList([
            LinearAttentionCore(CHANNELS, HEADS, attn_backend='torch'),
            SoftmaxAttentionCore(CHANNELS, HEADS)])
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)

    def forward(self, x):
        return tuple(core(x, HW) for core in self.cores)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    from mmsola.deploy.onnx_ops import custom_translation_table
    model = BothCores().eval()
    x = torch.randn(2, HW[0] * HW[1], CHANNELS, generator=torch.Generator().manual_seed(1))
    path = tmp_path_factory.mktemp('onnx') / 'cores.onnx'
    with torch.no_grad():
        program = torch.onnx.export(model, (x, ), dynamo=True, input_names=['x'],
                                    custom_translation_table=custom_translation_table(),
                                    optimize=True, verbose=False)
    program.save(str(path), external_data=False)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return model, x, session.run(None, {'x': x.numpy()}), path


def test_graph_is_standard_onnx(exported):
    from mmsola.deploy.onnx_export import check_standard_domains
    _, _, outs, path = exported
    graph = onnx.load(str(path))
    check_standard_domains(graph)  # the custom op became default-domain ops
    assert 'Elu' in {n.op_type for n in graph.graph.node}  # (static grid: tables folded)
    assert len(outs) == 2


@pytest.mark.parametrize('index', range(2))
def test_onnxruntime_matches_the_float64_formula(exported, index):
    model, x, outs, _ = exported
    core = model.cores[index]
    reference = linear_reference if isinstance(core, LinearAttentionCore) else softmax_reference
    with torch.no_grad():
        expected = reference(core.double(), x.double(), HW)
        core.float()
    got = torch.from_numpy(outs[index]).double()
    err = ((got - expected).norm() / expected.norm()).item()
    assert err < 1e-4, f'{type(core).__name__}: relative error {err:.2e}'
