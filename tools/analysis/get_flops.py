"""Parameters and FLOPs of SoLA-Vision, with the attention matrix products counted.

    python tools/analysis/get_flops.py --arch tiny small base --shape 224 224

Counts with ``mmengine.analysis`` (FlopAnalyzer + parameter_count), where one multiply-add is
one flop (as in fvcore). The model is the ImageNet classifier (backbone, global average pool,
linear head with ``--num-classes``), the same parameters as ``SoLAVisionCls``.

mmengine has no handle for ``aten::scaled_dot_product_attention``; this tool adds one
(QK^T and attn @ V). The linear-attention op traces as one custom-op node whatever its
backend, counted by the handle ``mmsola.ops`` exports. Each reported attention total is checked
against a hand count of the formulas (``attention_flops_by_hand``); a disagreement is an error.
"""
import argparse
import math
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

import mmsola  # noqa: F401  (registers SoLAVision)
from mmsola.models import SoLAVision
from mmsola.ops import LINEAR_ATTENTION_OP_NAME, linear_attention_flop_handle


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """mmengine handle for ``aten::scaled_dot_product_attention``: QK^T and attn @ V.

    q (..., N, d), k (..., M, d), v (..., M, dv): ``prod(...) * N * M * (d + dv)`` multiply-adds.
    The softmax and the scaling are elementwise and, as in fvcore, not counted.
    """
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = math.prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


class CountedClassifier(nn.Module):
    """SoLAVision -> global average pool -> Linear: the parameters of SoLAVisionCls."""

    def __init__(self, backbone: SoLAVision, num_classes: int = 1000):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.num_features[-1], num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone(x)[-1].mean(dim=(2, 3))
        return self.head(x) if self.head is not None else x


def stage_grids(shape: Sequence[int]) -> List[Tuple[int, int]]:
    """Token grid of each stage for an (H, W) input (ceil at every stride-2 step)."""
    h, w = math.ceil(math.ceil(shape[0] / 2) / 2), math.ceil(math.ceil(shape[1] / 2) / 2)
    grids = []
    for _ in range(4):
        grids.append((h, w))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return grids


def attention_flops_by_hand(model: SoLAVision, shape: Sequence[int]) -> Counter:
    """Multiply-adds of the attention products per image, from the formulas.

    'S' (h heads, head dim d, N tokens): QK^T and attn @ V, ``2 h N^2 d``.
    'L': the normaliser phi(q) . mean_n phi(k), ``h N d``, plus phi(k)^T v and q @ kv,
    ``2 h N d^2``. 'H' counts h/2 heads of each. Returns Counter(softmax=..., linear=...).
    """
    count = Counter(softmax=0, linear=0)
    for (h, w), pattern, heads, width in zip(stage_grids(shape), model.layer_pattern,
                                             model.num_heads, model.num_features):
        n, d = h * w, width // heads
        for kind in pattern:
            n_soft = heads if kind == 'S' else heads // 2 if kind == 'H' else 0
            n_lin = heads - n_soft
            count['softmax'] += 2 * n_soft * n * n * d
            count['linear'] += n_lin * n * d * (2 * d + 1)
    return count


def measure(model: nn.Module, shape: Sequence[int]) -> Dict[str, object]:
    """Trace ``model`` on a (1, 3, H, W) input: total flops, flops by operator, parameters."""
    from mmengine.analysis import FlopAnalyzer, parameter_count
    inputs = (torch.zeros(1, 3, *shape), )
    analyzer = FlopAnalyzer(model.eval(), inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit,
                           **{LINEAR_ATTENTION_OP_NAME: linear_attention_flop_handle})
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return dict(flops=analyzer.total(), by_operator=Counter(analyzer.by_operator()),
                params=parameter_count(model)[''])


def traced_attention(by_operator: Counter) -> Counter:
    """Attention flops as traced: SDPA and the linear-attention custom op."""
    return Counter(softmax=by_operator.get('scaled_dot_product_attention', 0),
                   linear=by_operator.get(LINEAR_ATTENTION_OP_NAME.split('::')[-1], 0))


def report(arch: str, shape: Sequence[int], layer_pattern: Optional[str] = None,
           num_classes: int = 1000, **backbone_kwargs) -> Dict[str, object]:
    """Measure one arch (``backbone_kwargs`` override SoLAVision arguments); raise
    RuntimeError if the traced attention disagrees with the hand count."""
    if layer_pattern:
        backbone_kwargs['layer_pattern'] = layer_pattern
    backbone = SoLAVision(arch, out_indices=(3, ), attn_backend='torch', **backbone_kwargs)
    result = measure(CountedClassifier(backbone, num_classes), shape)
    traced = traced_attention(result['by_operator'])
    by_hand = attention_flops_by_hand(backbone, shape)
    if traced != by_hand:
        raise RuntimeError(f'{arch}: traced attention flops {dict(traced)} != hand count '
                           f'{dict(by_hand)}; the flop handles miss or double-count an op')
    return dict(arch=arch, pattern='/'.join(backbone.layer_pattern), shape=tuple(shape),
                params=result['params'], backbone_params=sum(
                    p.numel() for p in backbone.parameters()),
                flops=result['flops'], attention=traced)


def format_table(rows: Sequence[Dict[str, object]]) -> str:
    lines = ['| arch | layer pattern | input | params (M) | backbone params (M) | FLOPs (G) '
             '| softmax attn (G) | linear attn (G) |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['arch']} | {r['pattern']} | {r['shape'][0]}x{r['shape'][1]} "
                     f"| {r['params'] / 1e6:.2f} | {r['backbone_params'] / 1e6:.2f} "
                     f"| {r['flops'] / 1e9:.2f} | {r['attention']['softmax'] / 1e9:.3f} "
                     f"| {r['attention']['linear'] / 1e9:.3f} |")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', nargs='+', default=['tiny'],
                        choices=['tiny', 'small', 'base', 't', 's', 'b'])
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'))
    parser.add_argument('--layer-pattern', default=None,
                        help="override the pattern, stages separated by '/', "
                        'e.g. LL/LLLL/LLLSLLLS/LLLS')
    parser.add_argument('--num-classes', type=int, default=1000,
                        help='classes of the linear head (0: backbone only)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = [report(a, args.shape, args.layer_pattern, args.num_classes) for a in args.arch]
    print(format_table(rows))
    print('\nFLOPs: multiply-adds (mmengine.analysis, as fvcore); attention products included '
          'and equal to the hand count.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
