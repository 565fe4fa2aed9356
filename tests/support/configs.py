"""Shared by the config tests: the shipped config names, cached loading, meta-device builds."""
import contextlib
import copy
import functools
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'
ARCHS = dict(t='tiny', s='small', b='base')

DET = [f'mask_rcnn_sola_{a}_fpn_{s}_coco.py' for a in 'tsb' for s in ('1x', '3x')]
SEG = [f'upernet_sola_{a}_ade20k.py' for a in 'tsb']
CLS = [f'sola_{a}_in1k.py' for a in 'tsb']
SHIPPED = SEG + DET + CLS  # the 15 configs of the spec, section 4
# ImageNet-1K fine-tunes of the default hybrid pattern from MLLA's weights (issue 16)
MLLA_FT = [f'sola_{a}_mlla-ft_in1k.py' for a in 'tsb']


@contextlib.contextmanager
def metafiles_read_once():
    """Memoise mmengine's reads of the toolkits' metafiles while the context is open.

    mmengine resolves every ``mmdet::`` / ``mmseg::`` / ``mmpretrain::`` base config by first
    reading all of that toolkit's model metafiles (about 400 YAML files, ~1 s per base file).
    They do not change during a test session, so each is read once: loading a shipped config
    then takes a fraction of a second instead of ~3 s. What mmengine does with them is
    unchanged.
    """
    from mmengine.config import utils

    original = utils.load
    read = functools.lru_cache(maxsize=None)(original)

    def load(file, *args, **kwargs):
        if isinstance(file, str) and file.endswith(('.yml', '.yaml')) and not args \
                and not kwargs:
            return read(file)
        return original(file, *args, **kwargs)

    utils.load = load
    try:
        yield
    finally:
        utils.load = original


def arch_of(name: str) -> str:
    """'tiny' | 'small' | 'base' from a shipped config's file name."""
    letter = name.replace('mask_rcnn_', '').replace('upernet_', '').split('_')[1]
    return ARCHS[letter]


@functools.lru_cache(maxsize=None)
def _load(path: str):
    from mmsola.checks.config import load_config
    return load_config(path)


def load(name_or_path) -> 'mmengine.Config':  # noqa: F821
    """A config by file name under configs/ (or path), through mmsola's own loader; each
    test gets its own copy of the once-loaded config."""
    path = Path(name_or_path)
    path = path if path.is_absolute() else CONFIG_DIR / path
    return copy.deepcopy(_load(str(path)))


def build_on_meta(cfg):
    """``cfg.model`` built in its toolkit with every tensor on the meta device: shapes and
    parameter counts, no memory and no init time."""
    from mmsola.checks.config import init_toolkit
    registry = init_toolkit(cfg)
    with torch.device('meta'):
        return registry.MODELS.build(cfg.model)
