"""Reading foreign checkpoints safely and writing converted ones atomically.

Foreign training files carry more than tensors: MLLA's ``main.py`` saves its yacs config
object (``yacs.config.CfgNode``) next to the weights. They are read like every checkpoint,
by :func:`mmsola.checkpoint.read_checkpoint` (``weights_only=True``), with the config classes
of :data:`~mmsola.checkpoint.FOREIGN_CONFIG_CLASSES` read as plain ``OrderedDict`` data
(:class:`~mmsola.checkpoint.InertConfig`): none of their code is imported or run, and any
other global in a file is refused, named in the error.
"""
import io
from typing import Iterable

import torch

from mmsola.checkpoint import FOREIGN_CONFIG_CLASSES, CheckpointError, read_checkpoint
from mmsola.errors import UserError
from mmsola.utils import AtomicLocalBackend


class ConversionError(UserError, ValueError):
    """A checkpoint that cannot be converted; the message says why and what to do."""


def load_foreign_checkpoint(path: str,
                            config_classes: Iterable[str] = FOREIGN_CONFIG_CLASSES,
                            what: str = 'checkpoint') -> dict:
    """:func:`mmsola.checkpoint.read_checkpoint` of ``path``, reading the config objects of
    ``config_classes`` as ``OrderedDict`` data.

    Raises:
        ConversionError: the file is missing, is not a torch checkpoint, holds something
            other than a dict, or pickles an object the weights-only loader refuses (named);
            the message is the reader's.
    """
    try:
        return read_checkpoint(path, what, config_classes=tuple(config_classes))
    except CheckpointError as err:
        raise ConversionError(str(err)) from err


def save_checkpoint_atomically(obj: object, path: str) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary file, fsync and a rename
    (:class:`mmsola.utils.AtomicLocalBackend`): never a half-written file under ``path``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    AtomicLocalBackend().put(buffer.getvalue(), path)
