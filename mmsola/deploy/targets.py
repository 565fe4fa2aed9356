"""What gets exported: a SoLA-Vision backbone, or a whole model from a config in inference mode.

Each target is an ``nn.Module`` mapping one (B, 3, H, W) tensor of preprocessed images (the
toolkit's data preprocessor already applied: mean/std normalised, RGB order as configured) to
plain tensors, with the output names the ONNX graph uses:

* backbone (``--arch``): ``stage{i}`` maps (B, C_i, ceil(H / 2**(i+2)), ceil(W / 2**(i+2))).
* segmentor (mmseg ``EncoderDecoder``): ``seg_logits`` (B, classes, H, W), the decode head's
  logits resized to the input as mmseg's whole-image inference does (argmax gives the mask).
* classifier (mmpretrain ``ImageClassifier``): ``scores`` (B, classes), softmax of the head.
* features of any config (``part='features'``): ``extract_feat`` (backbone, and neck if any).

Detectors (mmdet) export only as features; :data:`DETECTOR_BLOCKERS` says why.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from mmsola.errors import UserError

DETECTOR_BLOCKERS = (
    "mmdet's two-stage detectors (Mask R-CNN) cannot be exported whole by torch's ONNX "
    'exporter: {reason}. Export the detector\'s backbone + FPN with --part features (one '
    'ONNX file serving every resolution) and run the RPN / RoI heads in PyTorch, or use '
    'MMDeploy, which rewrites those heads for ONNX.')


# What stopped torch.export (the exporter's first step) on mmdet 3.3 / mmcv 2.1 Mask R-CNN
# predict(), tried with torch 2.14 at a static size.
DETECTOR_REASON = (
    '(1) data-dependent control flow and shapes in the RPN post-processing (mmdet '
    'RPNHead._bbox_post_process: `if not valid_mask.all(): results = results[valid_mask]`, '
    'non-strict export stops with GuardOnDataDependentSymNode; strict export stops earlier, at '
    "the deepcopy of mmengine's ConfigDict in RPNHead.predict); (2) mmcv's nms "
    '(mmcv.ops.batched_nms -> ext_module.nms) and RoIAlign (mmcv.ops.roi_align -> '
    'ext_module.roi_align_forward) are compiled pybind kernels, not torch custom ops, so they '
    "cannot run on the exporter's fake tensors ('Cannot access data pointer of Tensor')")


class ExportError(UserError, RuntimeError):
    """A model that cannot be exported as asked; the message says what blocks it and what to do
    instead."""


class FeatureMaps(nn.Module):
    """``model.extract_feat`` (or a bare backbone's forward) as a tuple of maps."""

    def __init__(self, model: nn.Module, num_outputs: int, prefix: str = 'feat'):
        super().__init__()
        self.model = model
        self.output_names = [f'{prefix}{i}' for i in range(num_outputs)]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        extract = getattr(self.model, 'extract_feat', self.model)
        return tuple(extract(x))


class SegmentorLogits(nn.Module):
    """mmseg ``EncoderDecoder`` whole-image inference: (B, 3, H, W) -> (B, classes, H, W)."""

    output_names = ['seg_logits']

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        metas = [dict(img_shape=tuple(x.shape[2:]), ori_shape=tuple(x.shape[2:]))]
        return self.segmentor.encode_decode(x, metas)


class ClassifierScores(nn.Module):
    """mmpretrain ``ImageClassifier`` prediction: (B, 3, H, W) -> (B, classes) softmax scores."""

    output_names = ['scores']

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier.head(self.classifier.extract_feat(x))
        return F.softmax(logits, dim=1)


def backbone_target(backbone: nn.Module) -> FeatureMaps:
    """A SoLAVision's forward, outputs named ``stage{i}`` for its ``out_indices``."""
    target = FeatureMaps(backbone, len(backbone.out_indices))
    target.output_names = [f'stage{i}' for i in backbone.out_indices]
    return target


def _num_features(model: nn.Module) -> int:
    """How many maps ``extract_feat`` returns (one small forward)."""
    with torch.no_grad():
        return len(tuple(model.extract_feat(torch.zeros(1, 3, 64, 64))))


def config_target(model: nn.Module, toolkit: str, part: str = 'model') -> nn.Module:
    """The module to export for a model built from a config of ``toolkit``.

    Args:
        model: the built model (eval mode).
        toolkit: 'mmseg' | 'mmpretrain' | 'mmdet'.
        part: 'model' (the whole model in inference mode) or 'features' (``extract_feat``).

    Raises:
        ExportError: part='model' of a detector, or a model type this does not know.
    """
    if part not in ('model', 'features'):
        raise ValueError(f"part must be 'model' or 'features', got {part!r}")
    if part == 'features':
        return FeatureMaps(model, _num_features(model))
    name = type(model).__name__
    if toolkit == 'mmseg':
        if not hasattr(model, 'encode_decode'):
            raise ExportError(f'{name} is not an mmseg EncoderDecoder-like segmentor (no '
                              'encode_decode); export it with --part features')
        return SegmentorLogits(model)
    if toolkit == 'mmpretrain':
        if not (hasattr(model, 'head') and hasattr(model, 'extract_feat')):
            raise ExportError(f'{name} is not an mmpretrain ImageClassifier-like model; '
                              'export it with --part features')
        return ClassifierScores(model)
    if toolkit == 'mmdet':
        raise ExportError(DETECTOR_BLOCKERS.format(reason=DETECTOR_REASON))
    raise ExportError(f'unknown toolkit {toolkit!r}')


def preprocessing_of(model: nn.Module) -> Dict[str, str]:
    """The normalisation the exported graph expects to have been applied (ONNX metadata)."""
    dp = getattr(model, 'data_preprocessor', None)
    info = {}
    for key in ('mean', 'std'):
        value = getattr(dp, key, None)
        if isinstance(value, torch.Tensor):
            info[key] = str([round(float(v), 4) for v in value.flatten()])
    for attr in ('channel_conversion', '_channel_conversion', 'to_rgb'):  # mmseg, mmengine,
        if hasattr(dp, attr):  # mmpretrain
            info['swap_bgr_rgb'] = str(bool(getattr(dp, attr)))
            break
    return info


def build_target(config: Optional[str] = None, arch: Optional[str] = None,
                 checkpoint: Optional[str] = None, part: str = 'model',
                 cfg_options: Optional[dict] = None,
                 **backbone_args) -> Tuple[nn.Module, List[str], Dict[str, str]]:
    """Build what to export from a config or an arch name, load ``checkpoint`` strictly.

    Args:
        config: a config file (mmseg segmentor, mmpretrain classifier, or mmdet detector with
            ``part='features'``); exclusive with ``arch``.
        arch: a SoLAVision arch ('tiny', 'small', 'base'); the backbone is exported with all
            four stage outputs unless ``backbone_args`` says otherwise.
        checkpoint: optional weights (random init without); must fit the model exactly (a
            whole-model checkpoint serves a backbone through its 'backbone.' keys).
        part: 'model' or 'features' (see :func:`config_target`).
        cfg_options: ``--cfg-options`` overrides of the config.
        **backbone_args: more SoLAVision arguments for ``arch`` (e.g. ``layer_pattern``).

    Returns:
        (target module in eval mode, output names, metadata for the ONNX file).
    """
    if (config is None) == (arch is None):
        raise ValueError('give either a config file or an arch (--arch tiny|small|base), '
                         'not both and not neither')
    from .checkpoint import load_checkpoint_strict
    if arch is not None:
        from mmsola.utils.backbone import BackboneFactory
        backbone_args.setdefault('out_indices', (0, 1, 2, 3))
        layer_pattern = backbone_args.pop('layer_pattern', None)
        backbone = BackboneFactory(arch, **backbone_args).build(layer_pattern)
        if checkpoint:
            load_checkpoint_strict(backbone, checkpoint)
        target = backbone_target(backbone.eval())
        meta = dict(model=f'SoLAVision {arch} backbone', layer_pattern='/'.join(
            backbone.layer_pattern))
        return target, target.output_names, meta

    from mmsola.checks.config import build_model, load_config, toolkit_of
    cfg = load_config(config, cfg_options)
    toolkit = toolkit_of(cfg)
    if toolkit == 'mmdet' and part == 'model':  # refuse before building the detector
        raise ExportError(DETECTOR_BLOCKERS.format(reason=DETECTOR_REASON))
    model = build_model(cfg)
    if checkpoint:
        load_checkpoint_strict(model, checkpoint)
    target = config_target(model.eval(), toolkit, part)
    meta = dict(model=f'{type(model).__name__} from {config}', part=part,
                **preprocessing_of(model))
    return target, list(target.output_names), meta


