"""Cheap repeated tool runs of one config, for the resume, crash and ``--amp`` tests.

- :data:`SMALL_UPERNET`: ``--cfg-options`` that narrow UperNet-SoLA (backbone widths 32..256,
  6 blocks with softmax blocks in stages 3 and 4, as configs/demo does; 32-channel decoder)
  and keep everything else of the config: its drop path 0.2, dropout, hooks, pipeline and
  schedules. A checkpoint is 30 MB instead of 700 MB.
- :func:`options_for`: :func:`tool_runs.tiny_options` as a function of the work dir, the
  config read once (reading an mmseg config takes seconds on a busy machine).
"""
import itertools
import os
from pathlib import Path
from typing import Callable, List, Sequence

from tests.support import tool_runs

SMALL_UPERNET = [
    'model.backbone.embed_dims=32', 'model.backbone.num_heads=[1,2,4,8]',
    'model.backbone.layer_pattern=[L,L,LSL,S]',
    'model.decode_head.in_channels=[32,64,128,256]', 'model.decode_head.channels=32',
    'model.auxiliary_head.in_channels=128', 'model.auxiliary_head.channels=16'
]

_IDS = itertools.count()


def options_for(config: str, data_root, extra: Sequence[str] = (),
                **shrink) -> Callable[[Path], List[str]]:
    """``work_dir -> tiny_options(config, data_root, work_dir, extra, **shrink)``, each call
    with its own mmengine instance names."""
    template = tool_runs.tiny_options(config, data_root, 'WORK_DIR', extra=extra, **shrink)

    def options(work_dir) -> List[str]:
        run = f'{Path(config).stem}_{Path(work_dir).name}_{os.getpid()}_{next(_IDS)}'
        values = dict(work_dir=work_dir, experiment_name=run, **{'visualizer.name': f'vis_{run}'})
        out = []
        for option in template:
            key = option.split('=', 1)[0]
            out.append(f'{key}={values[key]}' if key in values else option)
        return out

    return options
