"""Reading foreign checkpoints safely and writing converted ones atomically.

Foreign training files carry more than tensors. MLLA's ``main.py`` saves its yacs config
object (``yacs.config.CfgNode``) next to the weights, and the converting process need not
have yacs installed. Such files are still read with ``torch.load(weights_only=True)``: for
that one load, the config classes in :data:`FOREIGN_CONFIG_CLASSES` are allow-listed under
their pickled names, bound to :class:`InertConfig`, which rebuilds them as plain
``OrderedDict`` trees of their items (nested configs too) and never imports or runs their
code. Any other global in a file is refused by torch, and the error names it.
"""
import io
import os.path as osp
import pickle
import zipfile
from collections import OrderedDict
from typing import Iterable

import torch

from mmsola.utils import AtomicLocalBackend, allow_mmengine_checkpoint_globals

# pickled config classes of training scripts, read as data (see InertConfig)
FOREIGN_CONFIG_CLASSES = ('yacs.config.CfgNode', )


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message says why and what to do."""


class InertConfig:
    """Stand-in for a pickled config class (a ``dict`` subclass such as yacs' ``CfgNode``).

    Its ``__new__`` returns a plain ``OrderedDict``, which the weights-only unpickler fills
    with the config's items; the class's own attributes (yacs' ``__immutable__`` flags) land
    in that dict's ``__dict__``. Nothing of the original class is imported or called.
    """

    def __new__(cls, *args, **kwargs):
        return OrderedDict()


def _safe_globals(config_classes: Iterable[str]) -> list:
    # only the stand-ins: torch's safe_globals context removes what it added on exit, so
    # listing mmengine's types here would take them off the process-wide allow-list that
    # `import mmsola` set (resume and load_from would then fail); they are allowed already
    allow_mmengine_checkpoint_globals()
    return [(InertConfig, name) for name in config_classes]


def _unpickler_reason(err: Exception) -> str:
    """The line of torch's weights-only error that names the refused object."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reasons = [line for line in lines
               if not line.startswith(('Weights only load failed', 'Check the documentation'))]
    return ' '.join(reasons or lines[:1])


def load_foreign_checkpoint(path: str,
                            config_classes: Iterable[str] = FOREIGN_CONFIG_CLASSES) -> dict:
    """``torch.load(path, weights_only=True)`` on the CPU, reading the config objects of
    ``config_classes`` as ``OrderedDict`` data (see :class:`InertConfig`).

    Raises:
        ConversionError: the file is missing, is not a torch checkpoint, holds something
            other than a dict, or pickles an object the weights-only loader refuses (named).
    """
    if not osp.isfile(path):
        raise ConversionError(f'checkpoint {path!r} does not exist')
    try:
        with torch.serialization.safe_globals(_safe_globals(config_classes)):
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        if not zipfile.is_zipfile(path):  # torch >= 1.6 files are zip archives
            raise ConversionError(f'{path} is not a checkpoint torch can load '
                                  f'({_unpickler_reason(err)})') from err
        raise ConversionError(
            f'{path} holds an object that mmsola does not read (checkpoints are loaded with '
            f'weights_only=True and only tensors, containers and the configs '
            f'{list(config_classes)} are accepted): {_unpickler_reason(err)} -- re-save '
            'just the weights, e.g. torch.save({"model": ckpt["model"]}, path), where that '
            'class is importable') from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise ConversionError(f'{path} is not a checkpoint torch can load ({err})') from err
    if not isinstance(ckpt, dict):
        raise ConversionError(f'{path} holds a {type(ckpt).__name__}, not a checkpoint dict')
    return ckpt


def save_checkpoint_atomically(obj: object, path: str) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary file, fsync and a rename
    (:class:`mmsola.utils.AtomicLocalBackend`): never a half-written file under ``path``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    AtomicLocalBackend().put(buffer.getvalue(), path)
