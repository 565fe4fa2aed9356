"""One call that checks everything a training or test run of a config will need, before
anything is built (``tools/train.py`` and ``tools/test.py`` call it once)."""
from typing import Optional, Sequence, Tuple

from mmengine.config import Config

from mmsola.utils import check_writable
from .checkpoint import check_checkpoint, check_pretrained
from .dataset import check_datasets
from .launcher import check_launcher

# (path, how the user named it, a folder (True) or a file)
OutputPath = Tuple[str, str, bool]


def check_run(cfg: Config, mode: str, checkpoint: Optional[str] = None,
              outputs: Sequence[OutputPath] = (), launcher: str = 'none') -> None:
    """Check, cheapest first, that a run of ``cfg`` can start and write what it writes.

    1. The work dir (``cfg.work_dir``) and ``outputs`` can be created and written.
    2. The data of the run's splits is on disk (``'train'``: train and val; ``'test'``: test).
    3. ``'train'``: the ``Pretrained`` checkpoints in the model's init_cfgs exist and can be
       read, and ``cfg.load_from`` fits the model (with ``cfg.resume``: a training state, named
       ``--resume`` in the message). ``'test'``: ``checkpoint`` fits the model.
    4. ``launcher`` can work in this environment.

    Args:
        cfg: the config as the run will use it (``--cfg-options`` and the tool's arguments
            merged, ``work_dir`` set).
        mode: ``'train'`` or ``'test'``.
        checkpoint: ``'test'``: the checkpoint to evaluate.
        outputs: more files and folders the run writes.
        launcher: ``--launcher``.

    Raises:
        OutputPathError, DatasetNotFoundError, CheckpointError, LauncherError: the first
        problem found; each message says what was wrong and how to fix it.
    """
    if mode not in ('train', 'test'):
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    check_writable(cfg.work_dir, 'the work dir')
    for path, what, folder in outputs:
        check_writable(path, what, folder=folder)
    check_datasets(cfg, ('train', 'val') if mode == 'train' else ('test', ))
    if mode == 'train':
        check_pretrained(cfg)
        if cfg.get('load_from'):
            resume = bool(cfg.get('resume'))
            check_checkpoint(cfg, cfg.load_from, what='--resume' if resume else 'load_from',
                             resume=resume)
    else:
        check_checkpoint(cfg, checkpoint, what='checkpoint')
    check_launcher(launcher)
