"""Convert MLLA checkpoints into mmsola checkpoints (torch + mmengine only).

MLLA (github.com/LeapLabTHU/MLLA) publishes ImageNet-1K classifiers (T / S / B) and mmdet 2.x
Mask R-CNN / mmseg 0.x UperNet models. Its networks are SoLAVision's tiny / small / base with
the all-'L' layer pattern; :mod:`mmsola.convert.mlla_keys` holds the key and tensor mapping.

* A classifier file (``model``, or ``state_dict_ema`` with ``use_ema``) becomes an mmpretrain
  ImageClassifier checkpoint (``backbone.*``, ``head.fc.*``) for
  ``SoLAVisionCls(arch=..., layer_pattern=<all 'L'>)`` / ``configs/sola_{t,s,b}_in1k.py``;
  with ``backbone_only`` the ``backbone.*`` part with every output norm the dense configs
  have (the missing ones at their initial value), which their ``pretrained`` loads.
* A downstream file (``state_dict`` with ``backbone.*``): the backbone keys mapped, every
  other key (neck, heads) kept; mmdet 2.x's Mask R-CNN heads and mmseg 0.x's UperNet heads
  have the names mmdet 3.x / mmseg 1.x use (see :data:`DOWNSTREAM_RENAMES`).
* ``layer_pattern`` with 'S' blocks: each starts from its MLLA 'L' block (wrapper, norms,
  MLP, positional convs and LePE copied; q, k from ``qk``, v the identity), recorded as a warm
  start in the result's ``meta``: such a model needs fine-tuning.

Every conversion is checked against the SoLAVision it is meant for, built on the meta device
(no memory): a key missing, left over or of another shape is an error that names it.
"""
import copy
import functools
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from mmsola.models.backbones.layer_pattern import parse_layer_pattern
from mmsola.models.backbones.sola_vision import NUM_STAGES, SoLAVision
from mmsola.version import __version__
from .checkpoint_io import ConversionError, load_foreign_checkpoint, save_checkpoint_atomically
from .mlla_keys import (
    fold_bias_into_bn,
    map_backbone_key,
    mlla_structure,
    permute_qk,
    softmax_core_from_linear,
)

PRESETS = ('tiny', 'small', 'base')  # MLLA-T / S / B: the same widths, depths and heads
PREFIX = 'backbone.'
# mmdet 2.25 (MLLA's downstream/detection) -> mmdet 3.x and mmseg 0.28 -> mmseg 1.x key
# renames for the neck and heads MLLA uses (FPN + RPNHead + StandardRoIHead with
# Shared2FCBBoxHead and FCNMaskHead; UPerHead + FCNHead): none, their module names did not
# change (mmdet 3.x and mmseg 1.x list their 2.x / 0.x checkpoints of these models as they
# are). The table is where a rename would go: {old prefix: new prefix}.
DOWNSTREAM_RENAMES: Dict[str, Dict[str, str]] = {'mmdet': {}, 'mmseg': {}}
_HEAD_KEYS = {'mmdet': ('rpn_head.', 'roi_head.'), 'mmseg': ('decode_head.', )}
_COUNTER = 'num_batches_tracked'


@dataclass
class ConversionReport:
    """What a conversion did, for the tool's printout and the checkpoint's ``meta``."""
    kind: str  # 'classifier', 'classifier backbone', 'mmdet', 'mmseg' or 'downstream'
    weights: str  # the entry the weights came from: 'model', 'state_dict_ema', 'state_dict'
    arch: Union[str, dict]
    layer_pattern: List[str]
    mapped: int = 0
    dropped: List[str] = field(default_factory=list)
    folded: List[str] = field(default_factory=list)
    permuted: List[str] = field(default_factory=list)
    added: List[str] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)
    renamed: Dict[str, str] = field(default_factory=dict)
    warm_started: List[str] = field(default_factory=list)

    def as_meta(self) -> dict:
        meta = dict(kind=self.kind, weights=self.weights, arch=self.arch,
                    layer_pattern=self.layer_pattern, dropped_keys=self.dropped,
                    folded_keys=self.folded, permuted_keys=self.permuted,
                    added_keys=self.added, renamed_keys=self.renamed,
                    exact=not self.warm_started)
        if self.warm_started:
            meta['warm_start'] = dict(
                blocks=self.warm_started,
                note="'S' blocks initialised from MLLA's 'L' block (q, k from qk, v the "
                     'identity; wrapper, norms, MLP and LePE copied): fine-tune before use')
        return meta


# ------------------------------------------------------------------------ reading the file
def _examples(keys: Sequence[str], n: int = 6) -> str:
    keys = list(keys)
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return f'{keys[:n]}{more}'


def select_mlla_weights(ckpt: dict,
                        use_ema: bool = False) -> Tuple[Dict[str, torch.Tensor], str]:
    """The state dict in an MLLA file and the entry it came from (``model`` by default, the
    weights MLLA publishes; ``state_dict_ema`` with ``use_ema``).

    MLLA's classification files hold ``model`` (and, from its training runs, ``optimizer``,
    ``lr_scheduler``, ``config``, ``state_dict_ema`` ...); its downstream files (mmcv 1.x)
    ``state_dict`` and ``meta``; a bare state dict is accepted too.
    """
    if use_ema:
        if not isinstance(ckpt.get('state_dict_ema'), dict):
            raise ConversionError(
                'use_ema (--ema) needs the EMA weights under "state_dict_ema", which MLLA\'s '
                f'training checkpoints have; this file has the top-level keys '
                f'{_examples(ckpt, 10)}; drop --ema to convert its "model" weights')
        return ckpt['state_dict_ema'], 'state_dict_ema'
    for entry in ('model', 'state_dict'):
        if isinstance(ckpt.get(entry), dict):
            return ckpt[entry], entry
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt, 'state_dict'
    raise ConversionError(
        f'not an MLLA checkpoint: no "model" (classification) or "state_dict" (mmdet / '
        f'mmseg) entry; top-level keys {_examples(ckpt, 10)}')


def is_mlla_checkpoint(ckpt: dict) -> bool:
    """Whether ``ckpt`` (a checkpoint dict as read) holds MLLA's weights, by its keys: a
    classifier's ``patch_embed.conv1.conv.weight`` under ``model`` / ``state_dict_ema`` (or
    at the top), or a downstream file's ``backbone.patch_embed.conv1.conv.weight`` under
    ``state_dict``."""
    key = 'patch_embed.conv1.conv.weight'
    for state in (ckpt.get('model'), ckpt.get('state_dict'), ckpt.get('state_dict_ema'), ckpt):
        if isinstance(state, dict) and (key in state or PREFIX + key in state):
            return True
    return False


def checkpoint_kind(state: Dict[str, torch.Tensor]) -> str:
    """'classifier', 'mmdet', 'mmseg' or 'downstream' (a backbone.* file of other heads)."""
    if 'patch_embed.conv1.conv.weight' in state:
        return 'classifier'
    if PREFIX + 'patch_embed.conv1.conv.weight' in state:
        for kind, heads in _HEAD_KEYS.items():
            if any(k.startswith(heads) for k in state):
                return kind
        return 'downstream'
    if any(k.startswith(('stem.', PREFIX + 'stem.')) for k in state):
        raise ConversionError('this is already an mmsola (SoLAVision) checkpoint (it has '
                              'stem.* keys); it needs no conversion')
    raise ConversionError(
        'not an MLLA checkpoint: MLLA files have patch_embed.conv1.conv.weight (classifier) '
        f'or backbone.patch_embed.conv1.conv.weight (mmdet / mmseg); found keys like '
        f'{_examples(state)}')


# ---------------------------------------------------------------------------- the target
def resolve_target(structure: Tuple[int, List[int]], arch: Optional[Union[str, dict]] = None,
                   layer_pattern=None, config: Optional[dict] = None) -> Tuple[object, Dict]:
    """The SoLAVision arch (a preset name or the given dict) and settings for an MLLA
    backbone of ``structure`` = (embed_dims, depths), checked against it.

    Args:
        arch: a preset name, a dict with ``embed_dims`` and ``num_heads`` (e.g. a reduced
            model), or None: the preset whose width and depths match.
        layer_pattern: None (all 'L', exactly MLLA), 'default' (the preset's own hybrid
            pattern) or a pattern (see ``SoLAVision``); its lengths must be the depths.
        config: MLLA's yacs config from the file (as a dict), if any: its MODEL.MLLA
            fields must agree.
    """
    embed_dims, depths = structure
    found = f'embed_dims={embed_dims}, depths={depths}'
    if len(depths) != NUM_STAGES:
        raise ConversionError(f'the checkpoint has {len(depths)} stages (layers.<i>.blocks), '
                              f'SoLAVision has {NUM_STAGES}; not an MLLA-T/S/B model')
    if arch is None:
        matches = [name for name in PRESETS
                   if SoLAVision.arch_zoo[name]['embed_dims'] == embed_dims
                   and SoLAVision.arch_zoo[name]['depths'] == depths]
        if not matches:
            presets = {n: (SoLAVision.arch_zoo[n]['embed_dims'], SoLAVision.arch_zoo[n]['depths'])
                       for n in PRESETS}
            raise ConversionError(
                f'the checkpoint ({found}, read from patch_embed.conv3.1.conv.weight and '
                f'layers.<i>.blocks.<j>.*) matches no MLLA arch (embed_dims, depths): '
                f'{presets}')
        arch = matches[0]
    if isinstance(arch, str):
        if arch not in SoLAVision.arch_zoo:
            raise ConversionError(f'unknown arch {arch!r}; choose one of {list(PRESETS)}')
        preset = SoLAVision.arch_zoo[arch]
        want = (preset['embed_dims'], preset['depths'])
        heads = preset['num_heads']
    else:
        want = (arch['embed_dims'], list(arch.get('depths', depths)))
        heads = arch['num_heads']
    if want != (embed_dims, depths):
        raise ConversionError(
            f'arch {arch!r} has embed_dims={want[0]}, depths={want[1]}, but the checkpoint '
            f'has {found} (patch_embed.conv3.1.conv.weight has {embed_dims} rows; '
            f'layers.<i>.blocks.<j>.* count the blocks); choose the matching arch')
    _check_config(config, embed_dims, depths, heads)

    if layer_pattern is None:
        pattern = ['L' * n for n in depths]
    elif layer_pattern == 'default':
        if not isinstance(arch, str):
            raise ConversionError("layer_pattern 'default' needs a preset arch")
        pattern = list(SoLAVision.arch_zoo[arch]['layer_pattern'])
    else:
        try:
            pattern = parse_layer_pattern(layer_pattern, NUM_STAGES, depths)
        except ValueError as err:
            raise ConversionError(f'--pattern {layer_pattern!r}: {err}') from err
    bad = [(i, j) for i, s in enumerate(pattern) for j, c in enumerate(s) if c not in 'LS']
    if bad:
        raise ConversionError(
            f"--pattern {layer_pattern!r}: blocks {bad} are 'H'; only 'L' (MLLA's own "
            "blocks) and 'S' (warm-started from them) can start from an MLLA checkpoint")
    settings = dict(embed_dims=embed_dims, num_heads=list(heads), layer_pattern=pattern)
    try:
        SoLAVision.resolve_arch(copy.deepcopy(settings))
    except ValueError as err:
        raise ConversionError(f'arch {arch!r}: {err}') from err
    return arch, settings


def _check_config(config: Optional[dict], embed_dims: int, depths: List[int],
                  heads: Sequence[int]) -> None:
    mlla = ((config or {}).get('MODEL') or {}).get('MLLA') or {}
    stored = dict(EMBED_DIM=embed_dims, DEPTHS=list(depths), NUM_HEADS=list(heads))
    wrong = {k: (list(mlla[k]) if isinstance(mlla[k], (list, tuple)) else mlla[k], v)
             for k, v in stored.items() if k in mlla
             and (list(mlla[k]) if isinstance(mlla[k], (list, tuple)) else mlla[k]) != v}
    if wrong:
        raise ConversionError(
            'the checkpoint\'s own config (config.MODEL.MLLA) disagrees with the arch: '
            + ', '.join(f'{k}={a} in the file, {b} in the arch' for k, (a, b) in wrong.items()))


def expected_backbone(settings: Dict, out_indices: Sequence[int]) -> Dict:
    """The state dict of ``SoLAVision(arch=settings, out_indices)``, built on the meta device:
    names, shapes and dtypes without memory, and its ``_metadata`` (module versions).
    Read-only (cached per arch, pattern and outputs)."""
    return _expected_backbone(settings['embed_dims'], tuple(settings['num_heads']),
                              tuple(settings['layer_pattern']), tuple(out_indices))


@functools.lru_cache(maxsize=8)
def _expected_backbone(embed_dims: int, num_heads: tuple, layer_pattern: tuple,
                       out_indices: tuple) -> Dict:
    arch = dict(embed_dims=embed_dims, num_heads=list(num_heads),
                layer_pattern=list(layer_pattern))
    with torch.device('meta'):
        model = SoLAVision(arch=arch, out_indices=out_indices, drop_path_rate=0.)
    return model.state_dict()


# --------------------------------------------------------------------------- conversion
def convert_backbone(mlla_state: Dict[str, torch.Tensor], settings: Dict,
                     report: ConversionReport) -> 'OrderedDict[str, torch.Tensor]':
    """An MLLA backbone state dict (no prefix) -> SoLAVision's all-'L' state dict (no prefix),
    recording what it did in ``report``.

    Raises:
        ConversionError: keys that are not MLLA's, naming them.
    """
    heads = settings['num_heads']
    out = OrderedDict()
    folds, unknown = [], []
    for key, value in mlla_state.items():
        action, new = map_backbone_key(key)
        if action == 'unknown':
            unknown.append(key)
        elif action == 'drop':
            report.dropped.append(key)
        elif action == 'fold':
            folds.append((key, new))
        elif action == 'qk':
            stage = int(new.split('.')[1])
            out[new] = permute_qk(value, heads[stage])
            report.permuted.append(key)
        else:
            out[new] = value
    if unknown:
        raise ConversionError(f'keys that MLLA\'s backbone does not have: {_examples(unknown)}')
    for key, bn in folds:
        if bn + 'running_mean' not in out:
            raise ConversionError(f'{key} has no BatchNorm to fold into ({bn}running_mean '
                                  'is missing): an incomplete MLLA downsample')
        out[bn + 'running_mean'] = fold_bias_into_bn(mlla_state[key], out[bn + 'running_mean'])
        report.folded.append(key)
    report.mapped += len(out)
    return out


def warm_start_softmax_blocks(state: 'OrderedDict[str, torch.Tensor]', settings: Dict,
                              report: ConversionReport) -> None:
    """Give every 'S' block of ``settings['layer_pattern']`` its attention weights from the
    converted 'L' block in place (see :func:`softmax_core_from_linear`)."""
    for i, stage in enumerate(settings['layer_pattern']):
        for j, kind in enumerate(stage):
            if kind != 'S':
                continue
            core = f'stages.{i}.blocks.{j}.mixer.core.'
            weight, bias = softmax_core_from_linear(state.pop(core + 'qk.weight'),
                                                    state.pop(core + 'qk.bias'))
            state[core + 'qkv.weight'], state[core + 'qkv.bias'] = weight, bias
            report.warm_started.append(f'stages.{i}.blocks.{j}')


def add_missing_out_norms(state: 'OrderedDict[str, torch.Tensor]', expected: Dict,
                          prefix: str, report: ConversionReport) -> None:
    """Output LayerNorms the target has and the file lacks, at SoLAVision's init (1, 0)."""
    for key, value in expected.items():
        name = key[len(prefix):]
        if key not in state and re.match(r'^norm\d\.(weight|bias)$', name):
            fill = 1. if name.endswith('weight') else 0.
            like = next(iter(state.values()))  # the file's device (meta in key-only tests)
            state[key] = torch.full(value.shape, fill, dtype=value.dtype, device=like.device)
            report.added.append(key)


def check_against(state: Dict[str, torch.Tensor], expected: Dict, what: str) -> None:
    """Raise ConversionError unless ``state`` has exactly ``expected``'s keys and shapes."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    shapes = [f'{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or extra or shapes:
        raise ConversionError(
            f'the converted weights do not fit {what}: missing {_examples(missing)}, '
            f'unexpected {_examples(extra)}, shape mismatches (converted vs expected) '
            f'{_examples(shapes, 3)}; is the arch right?')


def _with_metadata(state: 'OrderedDict', expected: Dict, prefix: str,
                   source_metadata: Optional[dict] = None) -> 'OrderedDict':
    """Order ``state`` like ``expected`` and attach module versions: the backbone's from
    mmsola (its ``_version`` tells load hooks the meaning of its weights), the rest from the
    source."""
    ordered = OrderedDict((k, state[k]) for k in expected)
    ordered.update((k, v) for k, v in state.items() if k not in ordered)
    metadata = OrderedDict((k, v) for k, v in (source_metadata or {}).items()
                           if not (k == prefix[:-1] or k.startswith(prefix)))
    root = prefix[:-1] if prefix else ''
    for k, v in getattr(expected, '_metadata', {}).items():
        metadata[f'{root}.{k}' if root and k else (root or k)] = v
    ordered._metadata = metadata
    return ordered


def convert_mlla_checkpoint(ckpt: dict, *, use_ema: bool = False, layer_pattern=None,
                            backbone_only: bool = False, arch: Optional[Union[str, dict]] = None
                            ) -> Tuple[dict, ConversionReport]:
    """Convert a loaded MLLA checkpoint (see :func:`checkpoint_io.load_foreign_checkpoint`).

    Args:
        ckpt: the file's dict.
        use_ema: take ``state_dict_ema`` (a classification training file's EMA weights).
        layer_pattern: None (all 'L': computes what MLLA computes), 'default' (the preset's
            hybrid pattern) or a pattern; 'S' blocks are warm-started.
        backbone_only: a classifier file -> only ``backbone.*`` with the dense configs'
            output norms (``out_indices`` 0..3).
        arch: a preset name or dict; None infers the preset from the weights.

    Returns:
        ``(checkpoint, report)``: the new ``dict(state_dict=..., meta=...)`` and what was done.
    """
    state, entry = select_mlla_weights(ckpt, use_ema)
    kind = checkpoint_kind(state)
    if kind != 'classifier' and backbone_only:
        raise ConversionError(f'--backbone-only is for MLLA classification files; this is an '
                              f'{kind} file, whose backbone the dense configs load as it is')
    prefix = '' if kind == 'classifier' else PREFIX
    backbone = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                           if k.startswith(prefix) and not k.startswith('head.'))
    try:
        structure = mlla_structure(backbone)
    except KeyError as err:
        raise ConversionError(f'an incomplete MLLA backbone: no {err} keys') from err
    config = ckpt.get('config') if isinstance(ckpt.get('config'), dict) else None
    arch, settings = resolve_target(structure, arch, layer_pattern, config)
    report = ConversionReport(kind='classifier backbone' if backbone_only else kind, weights=entry,
                              arch=arch, layer_pattern=settings['layer_pattern'])
    converted = convert_backbone(backbone, settings, report)
    warm_start_softmax_blocks(converted, settings, report)
    converted = OrderedDict((PREFIX + k, v) for k, v in converted.items())

    if kind == 'classifier' and not backbone_only:
        out_indices = (NUM_STAGES - 1, )
    else:
        out_indices = tuple(range(NUM_STAGES))
    expected = _prefixed(expected_backbone(settings, out_indices))
    if backbone_only:
        add_missing_out_norms(converted, expected, PREFIX, report)
    check_against(converted, expected, f'SoLAVision(arch={arch!r}, layer_pattern='
                  f'{settings["layer_pattern"]}, out_indices={out_indices})')
    report.dropped += [k for k in state if k.startswith('head.') and backbone_only]

    if kind == 'classifier' and not backbone_only:
        converted.update(_classifier_head(state, settings))
    elif kind != 'classifier':
        renames = DOWNSTREAM_RENAMES.get(kind, {})
        for key, value in state.items():
            if key.startswith(PREFIX):
                continue
            new = next((n + key[len(o):] for o, n in renames.items() if key.startswith(o)),
                       key)
            if new != key:
                report.renamed[key] = new
            converted[new] = value
            report.kept.append(key)
    result = _with_metadata(converted, expected, PREFIX, getattr(state, '_metadata', None))
    meta = report.as_meta()
    meta.update(source='MLLA (github.com/LeapLabTHU/MLLA)', mmsola_version=__version__,
                source_meta=_plain_meta(ckpt.get('meta')))
    return dict(state_dict=result, meta=meta), report


def convert_mlla_file(src: str, dst: str, *, force: bool = False, **options
                      ) -> ConversionReport:
    """Convert the MLLA file ``src`` into ``dst`` (written atomically, ``meta`` naming its
    source); ``options`` are :func:`convert_mlla_checkpoint`'s.

    Raises:
        ConversionError: SRC is DST, DST exists (without ``force``), or SRC cannot be read or
            converted; nothing is written.
    """
    if osp.abspath(src) == osp.abspath(dst):
        raise ConversionError('SRC and DST are the same file; write elsewhere')
    if osp.exists(dst) and not force:
        raise ConversionError(f'{dst} exists; pass --force to replace it')
    converted, report = convert_mlla_checkpoint(load_foreign_checkpoint(src), **options)
    converted['meta']['converted_from'] = osp.basename(src)
    save_checkpoint_atomically(converted, dst)
    return report


def _prefixed(expected: Dict) -> 'OrderedDict':
    out = OrderedDict((PREFIX + k, v) for k, v in expected.items())
    out._metadata = getattr(expected, '_metadata', OrderedDict())
    return out


def _classifier_head(state: Dict[str, torch.Tensor], settings: Dict) -> 'OrderedDict':
    """MLLA's ``head`` (Linear after the final norm and pooling) -> LinearClsHead's ``fc``."""
    width = settings['embed_dims'] * 2**(NUM_STAGES - 1)
    head = OrderedDict()
    for name in ('weight', 'bias'):
        if f'head.{name}' not in state:
            raise ConversionError(f'the classifier has no head.{name}; convert with '
                                  '--backbone-only for the backbone alone')
        head[f'head.fc.{name}'] = state[f'head.{name}']
    if head['head.fc.weight'].dim() != 2 or head['head.fc.weight'].shape[1] != width:
        raise ConversionError(f'head.weight has shape {tuple(head["head.fc.weight"].shape)}, '
                              f'not (num_classes, {width}) for a last stage of width {width}')
    return head


def _plain_meta(meta) -> dict:
    """The source file's ``meta`` without its long config text (mmcv 1.x stores one)."""
    if not isinstance(meta, dict):
        return {}
    return {k: v for k, v in meta.items() if k not in ('config', 'env_info')
            and isinstance(v, (str, int, float, list, tuple, type(None)))}
