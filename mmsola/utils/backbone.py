"""The SoLAVision a tool measures, exports or analyses: built from an arch preset with any
layer pattern, or the one inside a config's model (detector, segmentor or classifier)."""
import copy
from typing import Optional, Sequence, Union

from torch import nn

from mmsola.models import SoLAVision

BACKBONE_TYPES = ('SoLAVision', 'mmsola.SoLAVision')
CLASSIFIER_TYPES = ('SoLAVisionCls', 'mmsola.SoLAVisionCls')
Pattern = Union[str, Sequence[str]]


def set_layer_pattern(model_cfg: dict, pattern: Sequence[str]) -> bool:
    """Set ``layer_pattern`` on the SoLAVision (or SoLAVisionCls) dict inside a model config;
    False if there is none."""
    if model_cfg.get('type') in BACKBONE_TYPES:
        model_cfg['layer_pattern'] = list(pattern)
        return True
    if model_cfg.get('type') in CLASSIFIER_TYPES:
        model_cfg['layer_pattern'] = list(pattern)
        (model_cfg.get('backbone') or {}).pop('layer_pattern', None)
        return True
    return any(set_layer_pattern(v, pattern) for v in model_cfg.values() if isinstance(v, dict))


def model_backbone(model: nn.Module) -> nn.Module:
    """The SoLAVision inside a built model, else its ``backbone``, else the model itself."""
    found = next((m for m in model.modules() if isinstance(m, SoLAVision)), None)
    return found if found is not None else getattr(model, 'backbone', model)


class BackboneFactory:
    """Builds fresh SoLAVisions with any layer pattern.

    Args:
        arch: a preset name or an arch dict (ignored with ``config``).
        config: take the SoLAVision of this config's model instead (the whole model is built,
            in its toolkit, and its SoLAVision returned).
        **backbone_args: more SoLAVision arguments for ``arch`` builds (e.g. ``out_indices``,
            ``drop_path_rate``, ``attn_backend``).
    """

    def __init__(self, arch: Union[str, dict] = 'tiny', config: Optional[str] = None,
                 **backbone_args):
        self.arch, self.cfg, self.backbone_args = arch, None, backbone_args
        if config:
            from mmsola.checks.config import load_config
            self.cfg = load_config(config)
        self._default_pattern = None

    @property
    def default_pattern(self) -> list:
        """The layer pattern of the arch preset, or the one the config sets."""
        if self._default_pattern is None:
            self._default_pattern = list(
                SoLAVision.resolve_arch(self.arch)['layer_pattern'] if self.cfg is None
                else self.build(None).layer_pattern)
        return self._default_pattern

    def build(self, pattern: Optional[Pattern] = None) -> SoLAVision:
        """A SoLAVision with ``pattern`` (None: the default one)."""
        if self.cfg is None:
            return SoLAVision(self.arch, layer_pattern=pattern, **self.backbone_args)
        from mmsola.checks.config import ConfigError, build_model
        cfg = copy.deepcopy(self.cfg)
        if isinstance(pattern, str):
            pattern = pattern.split('/')
        if pattern is not None and not set_layer_pattern(cfg.model, pattern):
            raise ConfigError(f'{cfg.filename}: no SoLAVision backbone in its model config')
        backbone = model_backbone(build_model(cfg))
        if not isinstance(backbone, SoLAVision):
            raise ConfigError(f'{cfg.filename}: its model holds no SoLAVision')
        return backbone
