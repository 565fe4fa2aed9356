"""Check, before any work, that a tool can write where it was told to.

A run that finds out at its first checkpoint (or last plot) that the work dir cannot be
written has wasted its time; :func:`check_writable` fails first, naming the path and why.
Nothing is created: the nearest existing folder above the path must be a writable folder.
"""
import os
import os.path as osp

from mmsola.checkpoint.reading import is_remote
from mmsola.errors import UserError


class OutputPathError(UserError, ValueError):
    """A place a tool cannot write to; the message names it and says why."""


def check_writable(path: str, what: str, folder: bool = True) -> None:
    """Check that ``path`` can be created or written without creating anything.

    Args:
        path: a folder the tool writes into (``folder=True``) or a file it writes.
        what: how the user named it (``'--work-dir'``, ``'--out'``), for the message.
        folder: whether ``path`` is a folder or a file.

    Raises:
        OutputPathError: ``path`` (or, for a file, its folder) is an existing file of the
            other kind, lies under a file, or is in a folder this user cannot write.
    """
    if is_remote(path):
        return  # object storage: mmengine's backends decide
    full = osp.abspath(path)
    if folder and osp.exists(full) and not osp.isdir(full):
        raise OutputPathError(f'{what} {path!r} is a file, not a folder; name a folder.')
    if not folder and osp.isdir(full):
        raise OutputPathError(f'{what} {path!r} is a folder; name a file to write.')
    existing = full if folder else osp.dirname(full)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise OutputPathError(f'{what} {path!r} cannot be created: {existing} is a file, '
                              'not a folder. Choose another path.')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f'{what} {path!r} cannot be written: this user may not write '
                              f'in {existing}. Choose a writable path.')
