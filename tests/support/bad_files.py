"""Broken files as users meet them: bad checkpoints (empty, truncated, not a dict, a hostile
pickle) and bad images, with the words each tool's message must hold."""
import os
from pathlib import Path
from typing import Dict, Tuple

import torch


class _RunsACommand:
    """Pickles as ``os.system(command)``: loading the file would run the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def bad_checkpoints(folder: Path) -> Dict[str, Tuple[Path, Tuple[str, ...]]]:
    """``{kind: (path, words the message must hold)}``; a hostile file that ran would create
    ``folder / 'pwned'`` (see :func:`hostile_ran`)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / 'good.pth'
    torch.save(dict(state_dict={'w': torch.zeros(64, 64)}, meta=dict(iter=1)), good)
    empty = folder / 'empty.pth'
    empty.write_bytes(b'')
    truncated = folder / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    tensor = folder / 'tensor.pth'
    torch.save(torch.zeros(3), tensor)
    hostile = folder / 'hostile.pth'
    torch.save(dict(state_dict={'w': torch.zeros(1)},
                    meta=_RunsACommand(f'touch {folder / "pwned"}')), hostile)
    good.unlink()
    return {
        'empty': (empty, ('is empty (0 bytes)', )),
        'truncated': (truncated, ('is truncated or damaged', 'its end is missing')),
        'not_a_dict': (tensor, ('holds a Tensor, not a checkpoint', )),
        'hostile': (hostile, ('was refused', 'global posix.system', 'never runs code')),
    }


def hostile_ran(folder: Path) -> bool:
    return (folder / 'pwned').exists()
