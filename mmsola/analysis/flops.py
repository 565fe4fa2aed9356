"""Parameters and FLOPs of SoLA-Vision models, with the attention matrix products counted.

Counting uses ``mmengine.analysis`` (FlopAnalyzer + parameter_count): one multiply-add is one
flop (as fvcore). mmengine has no handle for ``aten::scaled_dot_product_attention``; this
module adds one (QK^T and attn @ V). The linear-attention op traces as one custom-op node
(``mmsola::linear_attention_fwd``) whatever its backend, counted by the handle that
``mmsola.ops`` exports. For every SoLAVision inside the counted model, the traced attention is
checked against a hand count of the formulas (:func:`attention_flops_by_hand`); a disagreement
is an error, so a missing or double-counting handle cannot go unnoticed.

* :func:`report` - an arch (or layer pattern) as the ImageNet classifier, at any input size;
  :func:`report_backbone` the same for a built SoLAVision.
* :func:`report_config` - the whole model of a config (detector, segmentor or classifier) in
  its toolkit's tensor mode, at the config's test size by default.
* :func:`format_table` / :func:`format_config_table` - their rows as the markdown tables of
  ``tools/analysis/get_flops.py`` (docs/en/advanced_guides/complexity.md).
"""
import math
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from mmsola.errors import ArgumentError
from mmsola.models import SoLAVision
from mmsola.ops import LINEAR_ATTENTION_OP_NAME, linear_attention_flop_handle

SDPA_OP = 'aten::scaled_dot_product_attention'


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
    """SoLAVision -> global average pool -> Linear: the layers (so the parameters and the
    flops) of SoLAVisionCls, which pools with ``nn.AdaptiveAvgPool2d`` as here.

    ``num_classes=0`` leaves out the head (backbone + pooling only).
    """

    def __init__(self, backbone: SoLAVision, num_classes: int = 1000):
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(backbone.num_features[-1], num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, num_classes) logits, or (B, C_4) pooled features."""
        x = self.pool(self.backbone(x)[-1]).flatten(1)
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
    """Multiply-adds of the attention products per (H, W) image, from the formulas.

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


def flop_analyzer(model: nn.Module, inputs: Tuple[torch.Tensor, ...]):
    """mmengine FlopAnalyzer of ``model`` (put in eval mode) with the attention handles set
    and the unsupported-op / uncalled-module warnings off."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model.eval(), inputs)
    analyzer.set_op_handle(SDPA_OP, sdpa_flop_jit,
                           **{LINEAR_ATTENTION_OP_NAME: linear_attention_flop_handle})
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer


def traced_attention(by_operator: Dict[str, int]) -> Counter:
    """Attention flops as traced: SDPA and the linear-attention custom op."""
    return Counter(softmax=by_operator.get(SDPA_OP.split('::')[-1], 0),
                   linear=by_operator.get(LINEAR_ATTENTION_OP_NAME.split('::')[-1], 0))


def checked_attention(analyzer, model: nn.Module, shape: Sequence[int],
                      batch: int = 1) -> Counter:
    """Traced attention flops of every SoLAVision in ``model`` (which sees (batch, 3, H, W)
    images), summed; raises RuntimeError where one disagrees with its hand count."""
    total = Counter(softmax=0, linear=0)
    backbones = [(n, m) for n, m in model.named_modules() if isinstance(m, SoLAVision)]
    if not backbones:
        raise RuntimeError(f'{type(model).__name__} holds no SoLAVision module; nothing to '
                           'check the attention count against')
    for name, backbone in backbones:
        traced = traced_attention(analyzer.by_operator(name))
        by_hand = Counter({k: batch * v for k, v in
                           attention_flops_by_hand(backbone, shape).items()})
        if traced != by_hand:
            raise RuntimeError(f'{name or "model"}: traced attention flops {dict(traced)} != '
                               f'hand count {dict(by_hand)}; the flop handles miss or '
                               'double-count an op')
        total.update(traced)
    return total


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def report(arch: str, shape: Sequence[int], layer_pattern: Optional[str] = None,
           num_classes: int = 1000, **backbone_kwargs) -> Dict[str, object]:
    """Count one arch as the ImageNet classifier (``backbone_kwargs`` override SoLAVision
    arguments) on a (1, 3, H, W) input; see :func:`report_backbone`."""
    if layer_pattern:
        backbone_kwargs['layer_pattern'] = layer_pattern
    backbone = SoLAVision(arch, out_indices=(3, ), attn_backend='torch', **backbone_kwargs)
    return dict(arch=arch, **report_backbone(backbone, shape, num_classes))


def report_backbone(backbone: SoLAVision, shape: Sequence[int],
                    num_classes: int = 1000) -> Dict[str, object]:
    """Count a built SoLAVision as the ImageNet classifier (``num_classes=0``: backbone and
    pooling only) on a (1, 3, H, W) input on the backbone's device.

    Returns:
        dict with ``pattern`` ('/'-joined), ``shape``, ``params``, ``backbone_params``,
        ``flops`` and ``attention`` (Counter softmax / linear).

    Raises:
        RuntimeError: the traced attention disagrees with the hand count.
    """
    model = CountedClassifier(backbone, num_classes)
    device = next(backbone.parameters()).device
    analyzer = flop_analyzer(model, (torch.zeros(1, 3, *shape, device=device), ))
    attention = checked_attention(analyzer, model, shape)
    return dict(pattern='/'.join(backbone.layer_pattern), shape=tuple(shape),
                params=num_params(model), backbone_params=num_params(backbone),
                flops=analyzer.total(), attention=attention)


# --------------------------------------------------------------------- whole models of configs
def _test_pipeline(cfg) -> list:
    from mmsola.utils.dataset_wrappers import pipeline_dataset
    dataset = pipeline_dataset((cfg.get('test_dataloader') or {}).get('dataset') or {})
    return dataset.get('pipeline') or cfg.get('test_pipeline') or []


def _hw(size) -> Tuple[int, int]:
    """An OpenMMLab ``scale`` / ``crop_size`` / ``size``: int (square) or (w, h) -> (h, w)."""
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(h), int(w)


def test_input_shape(cfg) -> Tuple[int, int]:
    """The (H, W) a config's test pipeline feeds the model.

    The last fixed size in the pipeline wins: ``CenterCrop`` (crop_size), a ``Pad`` to a
    ``size``, or a resize with a ``scale`` (``Resize``, ``ResizeEdge``; a keep-ratio
    ``scale=(1333, 800)`` is its bounding box, reported as 800 x 1333, the convention of
    detection and segmentation FLOP tables).

    Raises:
        ValueError: the pipeline fixes no size (pass an explicit shape instead).
    """
    shape = None
    for transform in _test_pipeline(cfg):
        kind = str(transform.get('type', ''))
        if kind.endswith('CenterCrop') and transform.get('crop_size') is not None:
            shape = _hw(transform['crop_size'])
        elif kind.endswith('Pad') and transform.get('size') is not None:
            shape = _hw(transform['size'])
        elif 'Resize' in kind and not kind.startswith('Random') \
                and transform.get('scale') is not None:
            shape = _hw(transform['scale'])
    if shape is None:
        raise ArgumentError(f'{cfg.filename or "the config"}: its test pipeline fixes no input '
                         'size (no Resize with a scale, CenterCrop or Pad with a size); give '
                         'the size explicitly (get_flops.py --shape H W)')
    return shape


def fixed_proposals(shape: Sequence[int], num: int) -> torch.Tensor:
    """``num`` boxes (x1, y1, x2, y2) on a regular grid over an (H, W) image."""
    h, w = shape
    side = math.ceil(math.sqrt(num))
    idx = torch.arange(num, dtype=torch.float32)
    cx, cy = (idx % side + 0.5) * w / side, (idx // side + 0.5) * h / side
    bw, bh = w / 8, h / 8
    return torch.stack([(cx - bw / 2).clamp(min=0), (cy - bh / 2).clamp(min=0),
                        (cx + bw / 2).clamp(max=w), (cy + bh / 2).clamp(max=h)], dim=1)


class TensorMode(nn.Module):
    """A toolkit model called in its ``mode='tensor'`` (the raw network outputs, no
    post-processing) on an already normalised (B, 3, H, W) batch."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, None, mode='tensor')


class TwoStageTensorMode(nn.Module):
    """A two-stage detector's tensor mode with fixed proposals.

    mmdet's ``TwoStageDetector._forward`` runs the RPN, post-processes its proposals and runs
    the RoI head on them; how many proposals survive depends on the weights and the image
    (a random-init model on a blank input may keep few). Here the same parts run on a
    weight-independent set: backbone + neck (``extract_feat``), the RPN head's convs, and the
    RoI head's ``forward`` on ``num_proposals`` fixed boxes (the RPN's ``max_per_img``, what a
    trained RPN returns on a real image); the mask branch sees the first 100, as in mmdet.
    """

    def __init__(self, detector: nn.Module, shape: Sequence[int], num_proposals: int):
        super().__init__()
        self.detector = detector
        self.num_proposals = num_proposals
        self.register_buffer('boxes', fixed_proposals(shape, num_proposals), persistent=False)

    def forward(self, inputs: torch.Tensor):
        from mmengine.structures import InstanceData
        x = self.detector.extract_feat(inputs)
        rpn_outs = self.detector.rpn_head(x)
        proposals = [InstanceData(bboxes=self.boxes) for _ in range(inputs.shape[0])]
        return rpn_outs, self.detector.roi_head.forward(x, proposals)


def tensor_mode_model(model: nn.Module, toolkit: str, shape: Sequence[int]) -> nn.Module:
    """Wrap a built toolkit model so that ``forward(images)`` runs its inference network."""
    if toolkit == 'mmdet':
        from mmdet.models.detectors import TwoStageDetector
        if isinstance(model, TwoStageDetector) and model.with_rpn:
            rpn_cfg = (model.test_cfg or {}).get('rpn') or {}
            return TwoStageTensorMode(model, shape, int(rpn_cfg.get('max_per_img', 1000)))
    return TensorMode(model)


def report_config(config: str, shape: Optional[Sequence[int]] = None,
                  cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Count the whole model of a config (detector, segmentor or classifier).

    Args:
        config: path of an mmsola config (any of the three toolkits).
        shape: (H, W) input; default: the config's test size (:func:`test_input_shape`).
        cfg_options: overrides merged into the config.

    Returns:
        dict with ``config``, ``toolkit``, ``model`` (class name), ``shape``, ``params``
        (every parameter of the model, training-only heads included), ``backbone_params``,
        ``flops`` (the inference network on one image), ``backbone_flops``, ``by_module``
        (flops of each top-level part: backbone, neck, heads), ``attention`` (Counter
        softmax / linear) and ``note`` (what was counted).
    """
    from mmsola.checks import build_model, load_config, toolkit_of
    cfg = load_config(config, cfg_options)
    toolkit = toolkit_of(cfg)
    shape = tuple(shape) if shape else test_input_shape(cfg)
    model = build_model(cfg)
    wrapped = tensor_mode_model(model, toolkit, shape)
    analyzer = flop_analyzer(wrapped, (torch.zeros(1, 3, *shape), ))
    attention = checked_attention(analyzer, wrapped, shape)
    prefix = 'model.' if isinstance(wrapped, TensorMode) else 'detector.'
    by_module = {name: analyzer.total(prefix + name) for name, _ in model.named_children()}
    backbone = getattr(model, 'backbone', None)
    note = (f'fixed {wrapped.num_proposals} proposals' if isinstance(
        wrapped, TwoStageTensorMode) else 'tensor mode')
    return dict(config=config, toolkit=toolkit, model=type(model).__name__, shape=shape,
                params=num_params(model),
                backbone_params=num_params(backbone) if backbone is not None else 0,
                flops=analyzer.total(), backbone_flops=by_module.get('backbone', 0),
                by_module=by_module, attention=attention, note=note)


# ---------------------------------------------------------------------------------- tables
def format_table(rows: Sequence[Dict[str, object]]) -> str:
    """Markdown table of :func:`report` rows (``--arch``)."""
    lines = ['| arch | layer pattern | input | params (M) | backbone params (M) | FLOPs (G) '
             '| softmax attn (G) | linear attn (G) |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['arch']} | {r['pattern']} | {r['shape'][0]}x{r['shape'][1]} "
                     f"| {r['params'] / 1e6:.2f} | {r['backbone_params'] / 1e6:.2f} "
                     f"| {r['flops'] / 1e9:.2f} | {r['attention']['softmax'] / 1e9:.3f} "
                     f"| {r['attention']['linear'] / 1e9:.3f} |")
    return '\n'.join(lines)


def format_config_table(rows: Sequence[Dict[str, object]]) -> str:
    """Markdown table of :func:`report_config` rows (``--config``)."""
    lines = ['| config | model | input | params (M) | backbone params (M) | FLOPs (G) '
             '| backbone FLOPs (G) | softmax attn (G) | linear attn (G) | counted |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['config']} | {r['model']} | {r['shape'][0]}x{r['shape'][1]} "
                     f"| {r['params'] / 1e6:.2f} | {r['backbone_params'] / 1e6:.2f} "
                     f"| {r['flops'] / 1e9:.2f} | {r['backbone_flops'] / 1e9:.2f} "
                     f"| {r['attention']['softmax'] / 1e9:.3f} "
                     f"| {r['attention']['linear'] / 1e9:.3f} | {r['note']} |")
    return '\n'.join(lines)
