"""The checkpoint checks that ``tools/train.py`` and ``tools/test.py`` run before a Runner is
built, on :mod:`mmsola.checkpoint`.

- :func:`check_checkpoint`: a checkpoint exists, can be read and fits the config's model
  (same parameter names and shapes); otherwise :class:`CheckpointError` names a few missing,
  unexpected and differently shaped keys. The model's names and shapes come from a skeleton
  built on the ``meta`` device (no weights are allocated or initialised).
- :func:`check_pretrained`: the local ``Pretrained`` checkpoints named in ``init_cfg`` exist
  and can be read (a URL is checked when it is fetched, into torch's hub cache).
- :func:`resolve_resume`: the checkpoint ``--resume`` without a value continues from.
- :func:`adopt_resumed_seed`: a resumed run without a configured seed takes the seed of the
  run it continues.

Each error's message says what was wrong and how to fix it; the tools print it and exit.
"""
import logging
import os
import os.path as osp
import re
from typing import Dict, Iterator, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from mmsola.checkpoint import (
    FOREIGN_CONFIG_CLASSES,
    CheckpointError,
    diff_keys,
    is_remote,
    read_checkpoint,
    state_dict_of,
)
from mmsola.convert.mlla import is_mlla_checkpoint
from .config import init_toolkit

# mmengine's Runner strips this prefix (a DDP-wrapped model's) before loading.
_MODULE_PREFIX = re.compile(r'^module\.')


def _pretrained_cfgs(node, key: str) -> Iterator[Tuple[dict, str]]:
    """``(init_cfg, config key)`` of every ``Pretrained`` init_cfg in a model config."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        for i, c in enumerate(init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]):
            if isinstance(c, dict) and getattr(c.get('type'), '__name__',
                                               c.get('type')) in ('Pretrained',
                                                                  'PretrainedInit'):
                sub = f'.{i}' if isinstance(init_cfg, (list, tuple)) else ''
                yield c, f'{key}.init_cfg{sub}'
        for name, value in node.items():
            if name != 'init_cfg':
                yield from _pretrained_cfgs(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_cfgs(value, f'{key}.{i}')


def check_pretrained(cfg: Config) -> None:
    """Check that every local ``Pretrained`` checkpoint in ``cfg.model``'s init_cfgs exists
    and can be read (its tensors memory-mapped, not loaded).

    Raises:
        CheckpointError: naming the config key and the ways out (convert a classification
            checkpoint, point the key elsewhere, or train from scratch), or why the file
            cannot be read.
    """
    for init_cfg, key in _pretrained_cfgs(cfg.model, 'model'):
        path = init_cfg.get('checkpoint')
        if not path or is_remote(path):
            continue
        if osp.isfile(path):
            read_checkpoint(path, f'{key}.checkpoint', mmap=True,
                            config_classes=FOREIGN_CONFIG_CLASSES)  # MLLA's files too
            continue
        raise CheckpointError(
            f'{key}.checkpoint={path!r}: no such file. It is the ImageNet-1K backbone the '
            "model starts from: the configs name MLLA's published weights by URL (fetched "
            'on first use); a file can be MLLA\'s, or made from a sola_*_in1k checkpoint with '
            f'`python tools/model_converters/cls2backbone.py IN1K_CKPT {path}`. Point to '
            f'yours with --cfg-options {key}.checkpoint=PATH, or train from scratch with '
            f'--cfg-options {key}=None.')


def _state_dict(ckpt: dict, path: str, what: str) -> Dict[str, torch.Tensor]:
    """The checkpoint's weights as mmengine's Runner loads them: its ``'state_dict'`` entry
    (or the file itself), keys without ``module.``."""
    state_dict = state_dict_of(ckpt, f'{what} {path!r}', entries=('state_dict', ))
    if not state_dict or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f'{what} {path!r} holds no state dict of tensors (neither the '
                              "file nor its 'state_dict' entry).")
    return {_MODULE_PREFIX.sub('', k): v for k, v in state_dict.items()}


def model_shapes(cfg: Config) -> Dict[str, Tuple[int, ...]]:
    """``{state dict key: shape}`` of the config's model, without allocating its weights.

    The model is built on the ``meta`` device; a model whose constructor needs real tensor
    values (e.g. ``tensor.tolist()``) is built on the CPU instead, which costs its init time.
    """
    return {k: tuple(v.shape) for k, v in _skeleton(cfg).state_dict().items()}


def _skeleton(cfg: Config) -> torch.nn.Module:
    """The config's model on the ``meta`` device (see :func:`model_shapes`)."""
    registry = init_toolkit(cfg)
    try:
        with torch.device('meta'):
            model = registry.MODELS.build(cfg.model)
    except (NotImplementedError, RuntimeError) as err:
        print_log(f'building the model on the meta device failed ({err}); building it on '
                  'the CPU to read its parameter names', logger='current', level=logging.DEBUG)
        model = registry.MODELS.build(cfg.model)
    return model


def check_checkpoint(cfg: Config, path: str, what: str = 'checkpoint',
                     resume: bool = False) -> None:
    """Check that ``path`` exists, is readable and fits ``cfg.model`` key for key.

    Args:
        cfg: the config whose model will load the checkpoint.
        path: a local checkpoint file (remote ones, ``scheme://...``, are checked when they
            are fetched, not here); an MLLA file is compared as the model's load converts it.
        what: how the user named it, for the message (``'--resume'``, ``'load_from'``).
        resume: the run continues from it, so it must also hold the training state
            (``meta`` with the iteration; optimizer, schedulers) that a training run saves.

    Raises:
        CheckpointError: the file is missing or unreadable, or some keys of the model are
            missing from it, some of its keys are not in the model, or shapes differ; the
            message lists a few of each.
    """
    if is_remote(path):
        return
    ckpt = read_checkpoint(path, what, mmap=True)
    if resume and not (isinstance(ckpt.get('meta'), dict) and 'iter' in ckpt['meta']
                       and 'optimizer' in ckpt):
        raise CheckpointError(
            f'{what} {path!r} holds weights but not the training state (iteration, '
            'optimizer) a run continues from, e.g. a published or converted checkpoint. To '
            f'start a new run from its weights, use --cfg-options load_from={path} instead.')
    state_dict = _state_dict(ckpt, path, what)
    model = _skeleton(cfg)
    if is_mlla_checkpoint(dict(state_dict=state_dict)):  # converted on load: compare that
        from mmsola.convert.mlla_pretrained import convert_state_dict_for
        state_dict = convert_state_dict_for(model, state_dict)
    diff = diff_keys({k: tuple(v.shape) for k, v in model.state_dict().items()}, state_dict)
    if diff:
        raise CheckpointError(diff.message(
            f'{what} {path!r} does not fit the model of {cfg.filename or "the config"} '
            f'({diff.total} keys)',
            'Use a checkpoint written by a run of this config (a backbone-only checkpoint '
            'belongs in model.backbone.init_cfg, not here).'))


def resolve_resume(cfg: Config, resume: Optional[str]) -> Optional[str]:
    """The checkpoint a ``--resume`` run continues from, or None to start from scratch.

    Args:
        resume: ``'auto'`` (``--resume`` without a value: the checkpoint the work dir's
            ``last_checkpoint`` file names, None when there is none), a path, or None.

    Raises:
        CheckpointError: ``last_checkpoint`` names a file that no longer exists.
    """
    if resume is None:
        return None
    if resume != 'auto':
        return resume
    from mmengine.runner import find_latest_checkpoint
    latest = find_latest_checkpoint(cfg.work_dir)
    if latest is None or is_remote(latest) or osp.isfile(latest):
        return latest
    found = sorted(f for f in os.listdir(cfg.work_dir) if f.endswith('.pth'))
    raise CheckpointError(
        f'--resume: {osp.join(cfg.work_dir, "last_checkpoint")} names {latest!r}, which does '
        f'not exist. Resume from one of the checkpoints in {cfg.work_dir} with '
        f'--resume PATH: {found or "(none there)"}.')


def adopt_resumed_seed(cfg: Config) -> None:
    """A resumed run whose config has no ``randomness.seed`` takes the checkpoint's.

    With ``seed=None`` mmengine's Runner draws a new seed, builds the dataloaders with it (the
    sampler's shuffling, the dataloader workers' seeds) and only then, in ``resume``, switches
    to the checkpoint's seed: the resumed run would train on other batches, with other
    augmentations, than the interrupted one. Call after :func:`check_checkpoint`.
    """
    if not cfg.get('resume') or not cfg.get('load_from') or is_remote(cfg.load_from):
        return
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is not None:
        return
    seed = (read_checkpoint(cfg.load_from, '--resume', mmap=True).get('meta') or {}).get('seed')
    if seed is not None:
        cfg.randomness = dict(randomness, seed=int(seed))
        print_log(f'--resume: randomness.seed={int(seed)}, the seed of the run it continues '
                  '(the config sets none)', logger='current')


__all__ = ['CheckpointError', 'check_pretrained', 'check_checkpoint', 'model_shapes',
           'resolve_resume', 'adopt_resumed_seed']
