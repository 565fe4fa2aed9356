"""Read a checkpoint file weights-only, with one clear error for each way it can be wrong.

Every mmsola tool reads checkpoints through :func:`read_checkpoint` (local files, mmsola's own
or foreign ones) or :func:`load_checkpoint_dict` (local files or URLs), so a user sees the
same message whichever tool met the file:

- missing, a folder, or empty (0 bytes: a save or copy that never finished);
- truncated (the zip archive ``torch.save`` writes has no end) or not written by ``torch.save``;
- a pickle that asks for a Python global outside the weights-only allow-list (a file that
  would run code when loaded): refused, naming the global; never loaded with
  ``weights_only=False``;
- a file that loads but holds no dict (e.g. a bare tensor).
"""
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Dict, Sequence

import torch

from mmsola.errors import UserError
from .allow_list import inert_configs

# How torch's weights-only unpickler names a refused global, e.g. "GLOBAL posix.system".
_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')
# mmengine's Runner and loaders also read remote checkpoints (http://, s3://, ...).
_REMOTE = re.compile(r'^[a-z][a-z0-9+.-]*://', re.IGNORECASE)
_ZIP_MAGIC = b'PK\x03\x04'


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, refused or does not fit the model; the
    message says which file, what is wrong with it and what to do."""


def is_remote(path: str) -> bool:
    """``scheme://...`` (a URL or a storage backend), left to mmengine's loaders."""
    return bool(_REMOTE.match(str(path)))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _refused_message(err: pickle.UnpicklingError, name: str) -> str:
    if 'refusing getattr' in str(err):  # mmsola's restricted builtins.getattr
        asks = _first_line(err).split(' while loading')[0][len('refusing '):]
    else:  # with torch's own words, which a search for the error finds
        found = _GLOBAL.search(str(err)).group(1)
        asks = f'the Python global {found} (torch: "GLOBAL {found}")'
    return (f'{name} was refused by torch.load(weights_only=True): it asks for {asks}, which '
            'no checkpoint of tensors needs, and mmsola never runs code from a file. If you '
            'trust the file, load it where it was made and re-save its weights alone: '
            "torch.save(dict(state_dict=model.state_dict()), 'weights.pth').")


def _not_torch_message(name: str, size: int, head: bytes, detail: str) -> str:
    return (f'{name} is not a checkpoint written by torch.save ({size} bytes, starting with '
            f'{head[:8]!r}; {detail}), so not a checkpoint torch can load. Give the .pth file '
            'that torch.save (e.g. a training run) wrote.')


def read_checkpoint(path: str, what: str = 'checkpoint', mmap: bool = False,
                    config_classes: Sequence[str] = ()) -> Dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on the CPU, as a dict, or a clear error.

    Args:
        path: a local file.
        what: how the user named it, for the message (``'--resume'``, ``'load_from'``).
        mmap: memory-map the tensors (only the header is read) when the file allows it.
        config_classes: pickled config classes of a foreign training script (e.g.
            :data:`~mmsola.checkpoint.allow_list.FOREIGN_CONFIG_CLASSES`) to read as plain
            ``OrderedDict`` data for this load (:func:`~.allow_list.inert_configs`).

    Raises:
        CheckpointError: the file is missing, empty, truncated, not written by
            ``torch.save``, refused by the weights-only loader (the global is named), or
            holds something other than a dict.
    """
    name = f'{what} {path!r}'
    if not osp.exists(path):
        raise CheckpointError(f'{name}: no such file (the path does not exist).')
    if not osp.isfile(path):
        raise CheckpointError(f'{name} is not a file.')
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointError(f'{name} is empty (0 bytes): its save or copy never finished. '
                              'Use another checkpoint, e.g. an earlier one of the run.')
    with open(path, 'rb') as f:
        head = f.read(16)
    is_zip = head.startswith(_ZIP_MAGIC)
    whole_zip = is_zip and zipfile.is_zipfile(path)  # the archive's directory is at its end
    try:
        with inert_configs(config_classes):
            ckpt = torch.load(path, map_location='cpu', weights_only=True,
                              mmap=mmap and whole_zip)
    except pickle.UnpicklingError as err:
        if _GLOBAL.search(str(err)) or 'refusing getattr' in str(err):
            raise CheckpointError(_refused_message(err, name)) from err
        raise CheckpointError(_not_torch_message(
            name, size, head, 'its pickle data cannot be read')) from err
    except Exception as err:  # noqa: BLE001  (torch raises many types for a bad file)
        if is_zip:
            state = ('its end is missing' if not whole_zip else
                     f'{type(err).__name__}: {_first_line(err)}')
            why = (f'is truncated or damaged ({size} bytes; its zip archive cannot be read: '
                   f'{state}). Copy or download it again, or use another checkpoint.')
            raise CheckpointError(f'{name} {why}') from err
        raise CheckpointError(_not_torch_message(
            name, size, head, f'{type(err).__name__}: {_first_line(err)}')) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(
            f'{name} holds a {type(ckpt).__name__}, not a checkpoint dict: a dict of tensors '
            "(a state dict) or mmengine's dict with 'state_dict' and 'meta'.")
    return ckpt


def load_checkpoint_dict(checkpoint: str, what: str = 'checkpoint',
                         map_location: str = 'cpu') -> Dict[str, Any]:
    """A local checkpoint through :func:`read_checkpoint`, a remote one (``scheme://``)
    through mmengine's ``CheckpointLoader`` (which also reads weights-only)."""
    if not is_remote(checkpoint):
        return read_checkpoint(checkpoint, what)
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{what} {checkpoint!r} holds a {type(ckpt).__name__}, not a '
                              'checkpoint dict.')
    return ckpt
