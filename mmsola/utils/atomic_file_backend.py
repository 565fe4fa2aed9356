"""A local file backend whose writes are atomic, for checkpoints that must never be half-written.

mmengine's ``LocalBackend.put`` writes straight into the target file: a crash or a full disk
mid-write leaves a truncated checkpoint in place of the last good one. This backend writes to a
temporary file in the same folder, fsyncs it and renames it over the target (``os.replace`` is
atomic on POSIX and Windows), so the target is always either the old or the new file.

Use it from a config::

    default_hooks = dict(checkpoint=dict(type='CheckpointHook',
                                         backend_args=dict(backend='atomic_local')))

(mmsola's ``AtomicCheckpointHook`` uses it by default.) A process killed mid-write leaves its
temporary file, ``.<name>.<8 random characters>.tmp``, beside the target, never under the
target's name; :func:`remove_stale_temp_files` clears them.
"""
import os
import re
import tempfile
from pathlib import Path
from typing import List, Union

from mmengine.fileio import LocalBackend, register_backend

ATOMIC_LOCAL_BACKEND = 'atomic_local'


class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` with atomic :meth:`put` and :meth:`put_text`."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` atomically, creating parent folders as needed."""
        filepath = Path(filepath)
        filepath.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{filepath.name}.', suffix='.tmp',
                                        dir=filepath.parent)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_path, filepath)
        except BaseException:
            if os.path.exists(tmp_path):
                os.remove(tmp_path)
            raise

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text ``obj`` to ``filepath`` atomically."""
        self.put(obj.encode(encoding), filepath)


# the names tempfile.mkstemp gives in AtomicLocalBackend.put
_TEMP_NAME = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


def remove_stale_temp_files(folder: Union[str, Path]) -> List[Path]:
    """Remove the temporary files that killed :meth:`AtomicLocalBackend.put` calls left in
    ``folder`` (not its subfolders); the paths removed. Only for a folder no other process is
    writing to at the time."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if _TEMP_NAME.match(p.name) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


register_backend(ATOMIC_LOCAL_BACKEND, AtomicLocalBackend, force=True)
