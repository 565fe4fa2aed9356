"""Make a training checkpoint fit for release: weights and meta only, sha256 in the file name.

    python tools/model_converters/publish_model.py work_dirs/sola_t_in1k/epoch_300.pth \\
        sola_t_in1k.pth
    # -> sola_t_in1k-<first 8 hex digits of the file's sha256>.pth

Kept: ``state_dict`` (with its version metadata) and ``meta`` (config text, dataset classes,
epoch and iteration). Dropped: the optimizer, the parameter schedulers, the message hub, the
EMA hook's ``ema_state_dict`` and any other training state. In a checkpoint saved with
mmengine's EMAHook, ``state_dict`` already holds the EMA weights (the hook swaps them in
when it saves), so those are the ones published.

The file is written atomically; its name carries the sha256 prefix as OpenMMLab's model zoo
names do.
"""
import argparse
import hashlib
import io
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

import mmsola  # noqa: F401  (lets torch's weights-only loader read mmengine checkpoints)
from mmsola.apis.cli import USER_ERROR_STATUS, error_line
from mmsola.checkpoint import read_checkpoint
from mmsola.utils import AtomicLocalBackend, check_writable

KEEP = ('state_dict', 'meta')


def published_name(out: str, digest: str) -> str:
    """``OUT`` with ``-<sha8>`` before its ``.pth`` suffix (added if missing)."""
    stem = out[:-len('.pth')] if out.endswith('.pth') else out
    return f'{stem}-{digest[:8]}.pth'


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def publish(src: str, out: str) -> dict:
    """Write the stripped checkpoint of ``src`` as ``published_name(out, sha256)``.

    Returns:
        dict with ``path`` (the file written), ``sha256``, ``kept`` and ``dropped`` (top-level
        keys), ``tensors`` (number in ``state_dict``) and ``existed`` (an identical file was
        already there).

    Raises:
        ValueError: ``src`` is missing or not a checkpoint with a ``state_dict``, or a
            different file already has the published name.
    """
    check_writable(out, 'OUT', folder=False)  # OutputPathError, a ValueError
    ckpt = read_checkpoint(src, 'IN')  # CheckpointError (a ValueError) says what is wrong
    if not isinstance(ckpt.get('state_dict'), dict):
        found = list(ckpt)[:6]
        raise ValueError(f'{src} has no state_dict (found {found}); give a checkpoint '
                         'written by mmengine (tools/train.py)')
    slim = {k: ckpt[k] for k in KEEP if k in ckpt}
    buffer = io.BytesIO()
    torch.save(slim, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = published_name(out, digest)
    existed = osp.exists(path)
    if existed and sha256_of(path) != digest:
        raise ValueError(f'{path} exists with other content; move it away first')
    if not existed:
        AtomicLocalBackend().put(data, path)
    return dict(path=path, sha256=digest, kept=list(slim),
                dropped=[k for k in ckpt if k not in slim], tensors=len(slim['state_dict']),
                existed=existed)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', metavar='IN', help='checkpoint written by training')
    parser.add_argument('out', metavar='OUT',
                        help='name of the release file; -<sha8> goes before .pth')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        result = publish(args.src, args.out)
    except ValueError as err:
        print(error_line('publish_model.py', err), file=sys.stderr)
        return USER_ERROR_STATUS
    print(f'kept {", ".join(result["kept"])} ({result["tensors"]} tensors); dropped '
          f'{", ".join(result["dropped"]) or "nothing"}')
    state = 'already published (identical file)' if result['existed'] else 'wrote'
    print(f'{state} {result["path"]} (sha256 {result["sha256"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
