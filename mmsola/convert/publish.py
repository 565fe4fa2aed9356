"""A training checkpoint fit for release: weights and meta only, sha256 in the file name
(behind ``tools/model_converters/publish_model.py``).

Kept: ``state_dict`` (with its version metadata) and ``meta`` (config text, dataset classes,
epoch and iteration). Dropped: the optimizer, the parameter schedulers, the message hub, the
EMA hook's ``ema_state_dict`` and any other training state. In a checkpoint saved with
mmengine's EMAHook, ``state_dict`` already holds the EMA weights (the hook swaps them in when
it saves), so those are the ones published.
"""
import hashlib
import io
import os.path as osp

import torch

from mmsola.checkpoint import read_checkpoint
from mmsola.utils import AtomicLocalBackend, check_writable
from .checkpoint_io import ConversionError

KEEP = ('state_dict', 'meta')


def published_name(out: str, digest: str) -> str:
    """``OUT`` with ``-<sha8>`` before its ``.pth`` suffix (added if missing)."""
    stem = out[:-len('.pth')] if out.endswith('.pth') else out
    return f'{stem}-{digest[:8]}.pth'


def sha256_of(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def publish(src: str, out: str) -> dict:
    """Write the stripped checkpoint of ``src`` as ``published_name(out, sha256)``
    (atomically; an identical file already there is kept).

    Returns:
        dict with ``path`` (the file written), ``sha256``, ``kept`` and ``dropped`` (top-level
        keys), ``tensors`` (number in ``state_dict``) and ``existed`` (an identical file was
        already there).

    Raises:
        CheckpointError, ConversionError: ``src`` is missing or not a checkpoint with a
            ``state_dict``, or a different file already has the published name.
        OutputPathError: ``out`` cannot be written.
    """
    check_writable(out, 'OUT', folder=False)
    ckpt = read_checkpoint(src, 'IN')  # CheckpointError says what is wrong
    if not isinstance(ckpt.get('state_dict'), dict):
        found = list(ckpt)[:6]
        raise ConversionError(f'{src} has no state_dict (found {found}); give a '
                              'checkpoint written by mmengine (tools/train.py)')
    slim = {k: ckpt[k] for k in KEEP if k in ckpt}
    buffer = io.BytesIO()
    torch.save(slim, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = published_name(out, digest)
    existed = osp.exists(path)
    if existed and sha256_of(path) != digest:
        raise ConversionError(f'{path} exists with other content; move it away first')
    if not existed:
        AtomicLocalBackend().put(data, path)
    return dict(path=path, sha256=digest, kept=list(slim),
                dropped=[k for k in ckpt if k not in slim], tensors=len(slim['state_dict']),
                existed=existed)
