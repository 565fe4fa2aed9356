"""MLLA's checkpoints loaded straight into SoLA-Vision models, converted in memory for the
model's own arch and layer pattern by :func:`mmsola.convert.mlla.convert_mlla_checkpoint`
(the function ``mlla2sola.py`` runs). Importing this module registers them with the models
(:mod:`mmsola.models.foreign_checkpoints`; ``import mmsola`` does it).

Three ways in, one conversion:

- a backbone's ``Pretrained`` init_cfg (:func:`mmsola.models.backbones.pretrained.
  load_pretrained`): :func:`convert_for_backbone` of the whole file;
- a state dict with MLLA's keys handed to ``load_state_dict`` (mmengine's ``load_from``,
  ``tools/test.py``, the EMA model): ``SoLAVision._load_from_state_dict`` calls
  :func:`convert_keys_on_load` for the MLLA keys under its prefix, and SoLAVisionCls's
  pre-hook :func:`classifier_keys_to_sola` first moves an MLLA classifier's top-level keys
  under ``backbone.`` (and ``head.*`` to ``head.fc.*``);
- the tools' pre-run check: :func:`convert_state_dict_for` runs those two on a copy.

Each conversion is logged: what is exact (the 'L' blocks, stem, downsamples and norms), which
'S' blocks were warm-started. A checkpoint of another arch is the converter's error.
"""
from collections import OrderedDict
from typing import Dict, List, Tuple, Union

from torch import nn

from mmsola.checkpoint import drop_keys, select_prefix
from mmsola.models.backbones.sola_vision import SoLAVision
from mmsola.models.foreign_checkpoints import ForeignCheckpoint, register_foreign_checkpoint
from .checkpoint_io import ConversionError
from .mlla import (
    PREFIX,
    PRESETS,
    ConversionReport,
    checkpoint_kind,
    convert_mlla_checkpoint,
    is_mlla_checkpoint,
    select_mlla_weights,
)

STEM_KEY = 'patch_embed.conv1.conv.weight'  # the first key of every MLLA backbone
_CLASSIFIER_HEAD = {'head.weight': 'head.fc.weight', 'head.bias': 'head.fc.bias'}


def backbone_target(backbone: SoLAVision) -> Tuple[Union[str, dict], List[str]]:
    """The converter's ``arch`` (the preset's name when the model is one) and
    ``layer_pattern`` for ``backbone``."""
    own = (backbone.embed_dims, list(backbone.depths), list(backbone.num_heads))
    for name in PRESETS:
        preset = SoLAVision.arch_zoo[name]
        if own == (preset['embed_dims'], list(preset['depths']), list(preset['num_heads'])):
            return name, list(backbone.layer_pattern)
    return (dict(embed_dims=own[0], depths=own[1], num_heads=own[2]),
            list(backbone.layer_pattern))


def conversion_summary(report: ConversionReport) -> str:
    """One line for the log: where the weights came from, what is exact, what is warm."""
    pattern = '/'.join(report.layer_pattern)
    text = (f"MLLA {report.kind} weights ({report.weights!r}) converted for arch "
            f"{report.arch!r}, layer pattern {pattern}: exact for the 'L' blocks, stem, "
            'downsamples and norms')
    if report.warm_started:
        return (text + f"; WARM START (fine-tune before use) for the {len(report.warm_started)} "
                f"'S' blocks {', '.join(report.warm_started)}, initialised from MLLA's 'L' block")
    return text + "; no 'S' block, so the model computes what MLLA computes"


def convert_for_backbone(ckpt: dict, backbone: SoLAVision, source: str = 'the checkpoint'
                         ) -> 'OrderedDict':
    """The state dict (no prefix, with its module metadata) of ``backbone`` from an MLLA
    checkpoint dict (a classifier's ``model`` / ``state_dict_ema`` or a downstream file's
    ``state_dict``), converted for its arch and layer pattern; logged.

    Output norms the file has and the model lacks (a classifier's backbone has only the
    last) are left out; those it lacks are the converter's initial values (or left out too
    when the model lacks them).

    Raises:
        ConversionError: the file is of another arch, or not convertible (the converter's
            message, prefixed with ``source``).
    """
    from mmengine.logging import print_log
    arch, pattern = backbone_target(backbone)
    state, _ = select_mlla_weights(ckpt)
    backbone_only = checkpoint_kind(state) == 'classifier'
    try:
        converted, report = convert_mlla_checkpoint(ckpt, arch=arch, layer_pattern=pattern,
                                                    backbone_only=backbone_only)
    except ConversionError as err:
        raise ConversionError(f'{source}: {err}') from err
    state = select_prefix(converted['state_dict'], PREFIX)
    own = backbone.state_dict()
    state = drop_keys(state, [k for k in state if k not in own])
    print_log(f'{type(backbone).__name__}: {source}: {conversion_summary(report)}',
              logger='current')
    return state


def convert_keys_on_load(backbone: SoLAVision, state_dict: Dict, prefix: str,
                         local_metadata: dict) -> None:
    """``backbone``'s ``_load_from_state_dict`` step: MLLA keys under ``prefix`` (an mmdet /
    mmseg file's ``backbone.*``, or a classifier's keys moved there by
    :func:`classifier_keys_to_sola`) are replaced in ``state_dict`` by the converted ones,
    and the metadata (module versions, RoPE layout) is the conversion's. A no-op for other
    state dicts."""
    if prefix + STEM_KEY not in state_dict:
        return
    mlla = OrderedDict((k[len(prefix):], state_dict.pop(k)) for k in list(state_dict)
                       if k.startswith(prefix))
    ckpt = ({'model': mlla} if 'norm.weight' in mlla else
            {'state_dict': OrderedDict((PREFIX + k, v) for k, v in mlla.items())})
    converted = convert_for_backbone(ckpt, backbone, f'the MLLA weights under {prefix!r}')
    state_dict.update((prefix + k, v) for k, v in converted.items())
    metadata = getattr(converted, '_metadata', {})
    local_metadata.update(metadata.get('', {}))
    loading = getattr(state_dict, '_metadata', None)  # what the children will read
    if loading is not None:
        for key, value in metadata.items():
            loading[prefix + key if key else prefix[:-1]] = value


def classifier_keys_to_sola(module: nn.Module, state_dict: Dict, prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook of SoLAVisionCls: an MLLA classifier's state dict (its
    keys at the top) gets its backbone keys under ``backbone.`` (converted there by the
    backbone) and ``head.weight`` / ``head.bias`` as ``head.fc.*``. A no-op otherwise."""
    if prefix + STEM_KEY not in state_dict:
        return
    for key in [k for k in state_dict if k.startswith(prefix)]:
        rest = key[len(prefix):]
        if rest in _CLASSIFIER_HEAD:
            state_dict[prefix + _CLASSIFIER_HEAD[rest]] = state_dict.pop(key)
        elif rest.startswith(('patch_embed.', 'layers.', 'norm.')):
            state_dict[prefix + PREFIX + rest] = state_dict.pop(key)


def convert_state_dict_for(model: nn.Module, state_dict: Dict) -> 'OrderedDict':
    """A copy of ``state_dict`` as loading it into ``model`` would convert it (the steps
    above, in load order): what the tools' checks compare with the model."""
    out = OrderedDict(state_dict)
    out._metadata = OrderedDict(getattr(state_dict, '_metadata', None) or {})
    if isinstance(getattr(model, 'backbone', None), SoLAVision):
        classifier_keys_to_sola(model, out, '')
    for name, module in model.named_modules():
        if isinstance(module, SoLAVision):
            convert_keys_on_load(module, out, f'{name}.' if name else '', {})
    return out


register_foreign_checkpoint(ForeignCheckpoint(
    name='MLLA', recognise=is_mlla_checkpoint, convert_for_backbone=convert_for_backbone,
    convert_keys_on_load=convert_keys_on_load, move_classifier_keys=classifier_keys_to_sola))
