"""Records which process writes which file, for multi-process tests.

Imported (e.g. through a config's ``custom_imports``) with ``MMSOLA_WRITE_PROBE=DIR`` set, it
wraps ``open`` (any writing mode) and ``os.replace`` (the rename of an atomic write) so that each
file a process creates or rewrites under ``MMSOLA_WRITE_PROBE_ROOT`` is appended to
``DIR/rank<RANK>.txt``. The record does not depend on timing: a file two ranks write shows up in
both lists whether or not their writes happened to overlap.
"""
import builtins
import os

_DIR = os.environ.get('MMSOLA_WRITE_PROBE')
_ROOT = os.environ.get('MMSOLA_WRITE_PROBE_ROOT', '/')
_WRITING = set('wax+')


def _record(path) -> None:
    try:
        path = os.path.abspath(os.fspath(path))
    except TypeError:  # a file descriptor
        return
    if path.startswith(_ROOT) and not path.startswith(_DIR):
        line = f'{path}\n'.encode()
        fd = os.open(os.path.join(_DIR, f"rank{os.environ.get('RANK', '0')}.txt"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def written(probe_dir) -> dict:
    """``{rank: [paths in write order]}`` from a probe folder."""
    return {int(p.stem[4:]): p.read_text().splitlines()
            for p in sorted(probe_dir.glob('rank*.txt'))}


if _DIR and not getattr(builtins.open, '_write_probe', False):
    os.makedirs(_DIR, exist_ok=True)
    _open, _replace = builtins.open, os.replace

    def _probed_open(file, mode='r', *args, **kwargs):
        if _WRITING & set(mode):
            _record(file)
        return _open(file, mode, *args, **kwargs)

    def _probed_replace(src, dst, *args, **kwargs):
        _replace(src, dst, *args, **kwargs)
        _record(dst)

    _probed_open._write_probe = True
    builtins.open, os.replace = _probed_open, _probed_replace
