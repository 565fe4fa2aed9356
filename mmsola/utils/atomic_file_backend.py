"""A local file backend whose writes are atomic, for checkpoints that must never be half-written.

mmengine's ``LocalBackend.put`` writes straight into the target file: a crash or a full disk
mid-write leaves a truncated checkpoint in place of the last good one. This backend writes to a
temporary file in the same folder, fsyncs it and renames it over the target (``os.replace`` is
atomic on POSIX and Windows), so the target is always either the old or the new file.

Use it from a config::

    default_hooks = dict(checkpoint=dict(type='CheckpointHook',
                                         backend_args=dict(backend='atomic_local')))
"""
import os
import tempfile
from pathlib import Path
from typing import Union

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


register_backend(ATOMIC_LOCAL_BACKEND, AtomicLocalBackend, force=True)
