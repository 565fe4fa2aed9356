"""Checkpoints of other codebases that the SoLA-Vision models load as they are.

A converter registers a :class:`ForeignCheckpoint` (``import mmsola`` registers MLLA's, from
:mod:`mmsola.convert.mlla_pretrained`); the models call what is registered at their three ways
in, so they import no converter:

- a backbone's ``Pretrained`` init_cfg (:func:`mmsola.models.backbones.pretrained.
  load_pretrained`): the whole checkpoint dict becomes the backbone's state dict;
- ``SoLAVision._load_from_state_dict`` (``load_from``, ``tools/test.py``): the foreign keys
  under its prefix are converted in place;
- SoLAVisionCls's ``load_state_dict`` pre-hook: a foreign classifier's top-level keys move
  under ``backbone.`` and into the head.
"""
from typing import Callable, Dict, List, NamedTuple, Optional

from torch import nn


class ForeignCheckpoint(NamedTuple):
    """One codebase's checkpoints, as the models meet them.

    Attributes:
        name: e.g. ``'MLLA'``.
        recognise: ``(checkpoint dict) -> bool``, by its content.
        convert_for_backbone: ``(checkpoint dict, backbone, source name) -> state dict`` of
            the backbone (no prefix), converted for its arch and layer pattern.
        convert_keys_on_load: ``(backbone, state_dict, prefix, local_metadata) -> None``:
            converts the foreign keys under ``prefix`` in place; a no-op for other keys.
        move_classifier_keys: ``(classifier, state_dict, prefix, *hook args) -> None``: a
            ``load_state_dict`` pre-hook; a no-op for other state dicts.
    """
    name: str
    recognise: Callable[[dict], bool]
    convert_for_backbone: Callable[..., Dict]
    convert_keys_on_load: Callable[..., None]
    move_classifier_keys: Callable[..., None]


_REGISTERED: List[ForeignCheckpoint] = []


def register_foreign_checkpoint(kind: ForeignCheckpoint) -> None:
    """Make the models load ``kind``'s checkpoints (registering a name again replaces it)."""
    _REGISTERED[:] = [k for k in _REGISTERED if k.name != kind.name] + [kind]


def foreign_checkpoint_of(checkpoint: dict) -> Optional[ForeignCheckpoint]:
    """The registered kind that recognises ``checkpoint``, or None (mmsola's own)."""
    return next((kind for kind in _REGISTERED if kind.recognise(checkpoint)), None)


def convert_foreign_keys_on_load(backbone: nn.Module, state_dict: Dict, prefix: str,
                                 local_metadata: dict) -> None:
    """Every registered kind's :attr:`ForeignCheckpoint.convert_keys_on_load`."""
    for kind in _REGISTERED:
        kind.convert_keys_on_load(backbone, state_dict, prefix, local_metadata)


def move_foreign_classifier_keys(module: nn.Module, state_dict: Dict, prefix: str,
                                 *args) -> None:
    """``load_state_dict`` pre-hook: every registered kind's
    :attr:`ForeignCheckpoint.move_classifier_keys`."""
    for kind in _REGISTERED:
        kind.move_classifier_keys(module, state_dict, prefix, *args)
