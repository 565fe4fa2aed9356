"""Check ``--cfg-options`` against the config before merging them.

mmengine's ``Config.merge_from_dict`` adds any key it is given: a typo such as
``train_cfg.max_iter=1000`` is silently ignored and the run trains the config's full schedule;
``train_cfg.max_iters=1k`` becomes a string and fails deep inside the loop. Here a key must
exist in the config, or be an argument that the ``type`` of its dict accepts (e.g.
``train_dataloader.dataset.indices``, an argument of every mmengine dataset; the dataloaders,
loops, ``randomness`` and ``env_cfg`` by what the Runner builds from them), or a top-level
Runner setting, or sit in a dict without ``type`` inside a typed one (arguments passed on,
which cannot be inspected); a value must not change a number, a bool, a dict or a list into
a string.
"""
import difflib
import functools
import inspect
from typing import Any, Dict, List, Optional, Set

from mmengine.config import Config

from .config import ConfigError, init_toolkit

# Top-level keys the Runner (and Runner.from_cfg) reads although a config need not set them.
_RUNNER_EXTRAS = ('runner_type', 'tta_model', 'tta_pipeline', 'find_unused_parameters',
                  'sync_bn', 'model_wrapper_cfg', 'compile', 'strategy', 'cfg')


class _Missing:
    pass


_MISSING = _Missing()


def _child(node: Any, part: str) -> Any:
    if isinstance(node, (dict, Config)):
        return node.get(part, _MISSING)
    if isinstance(node, (list, tuple)) and part.isdigit():
        return node[int(part)] if int(part) < len(node) else _MISSING
    return _MISSING


@functools.lru_cache(maxsize=None)
def _runner_keys() -> Set[str]:
    from mmengine.runner import Runner
    return set(inspect.signature(Runner.__init__).parameters) | set(_RUNNER_EXTRAS)


def _arguments(cls) -> Optional[Set[str]]:
    """Constructor arguments of ``cls`` and of the bases its ``**kwargs`` reach; None when
    the chain ends in ``**kwargs`` that cannot be followed (anything may be accepted)."""
    names: Set[str] = set()
    for klass in inspect.getmro(cls) if inspect.isclass(cls) else [cls]:
        init = klass.__init__ if inspect.isclass(klass) else klass
        if init is object.__init__:
            return names
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        names |= {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL,
                                                                  p.VAR_KEYWORD)}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return names
    return None


def _resolve_type(cfg: Config, type_name: Any):
    """The class or function a ``type`` names, searched in every registry of the toolkit."""
    if not isinstance(type_name, str):
        return type_name
    import importlib

    from mmengine.registry import Registry
    init_toolkit(cfg)
    scope, _, name = type_name.rpartition('.')
    modules = [importlib.import_module(f'{scope or cfg.default_scope}.registry'),
               importlib.import_module('mmengine.registry')]
    for module in modules:
        for registry in vars(module).values():
            if isinstance(registry, Registry):
                found = registry.get(name)
                if found is not None:
                    return found
    return None


@functools.lru_cache(maxsize=None)
def _typeless_arguments() -> Dict[str, Set[str]]:
    """What the Runner builds from the top-level dicts that carry no ``type``."""
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
    from torch.utils.data import DataLoader
    loader = _arguments(DataLoader) | {'collate_fn', 'worker_init_fn'}
    return dict(train_dataloader=loader, val_dataloader=loader, test_dataloader=loader,
                train_cfg=_arguments(EpochBasedTrainLoop) | _arguments(IterBasedTrainLoop)
                | {'by_epoch'},
                val_cfg=_arguments(ValLoop), test_cfg=_arguments(TestLoop),
                randomness={'seed', 'diff_rank_seed', 'deterministic'},
                env_cfg={'cudnn_benchmark', 'mp_cfg', 'dist_cfg'})


def _accepts(cfg: Config, parts: List[str], depth: int, parent: Any, typed_above: bool) -> bool:
    """Whether ``parts[depth]``, absent from ``parent``, is an argument of what it builds.

    A dict without ``type`` inside a typed one (e.g. a classifier's ``backbone`` arguments,
    a detector's ``train_cfg.rcnn``) is read by code that cannot be inspected: accepted.
    """
    name = parts[depth]
    if depth == 1 and name in _typeless_arguments().get(parts[0], ()):
        return True
    if not isinstance(parent, dict):
        return False
    if 'type' not in parent:
        return typed_above
    target = _resolve_type(cfg, parent['type'])
    if target is None:
        return False
    accepted = _arguments(target)
    return accepted is None or name in accepted


def _unknown_key_message(key: str, parts: List[str], depth: int, parent: Any) -> str:
    where = '.'.join(parts[:depth]) or 'the config'
    name = parts[depth]
    have = [str(k) for k in parent] if isinstance(parent, (dict, Config)) else []
    close = difflib.get_close_matches(name, have, n=1)
    hint = f"; did you mean {'.'.join(parts[:depth] + close)}?" if close else '.'
    listing = f' ({where} holds: {", ".join(have[:12])}{" ..." if len(have) > 12 else ""})' \
        if have and depth else ''
    return (f'--cfg-options {key}: the config has no {".".join(parts[:depth + 1])}'
            f'{listing}{hint} mmengine would add it unused, so it is refused; new keys are '
            "allowed only where the dict's type takes them as an argument.")


def _kind(value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return 'a bool (True or False)'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, dict):
        return 'a dict'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return None


def _type_problem(key: str, old: Any, new: Any) -> Optional[str]:
    """Why ``new`` cannot replace ``old`` (a number, bool, dict or list made a string)."""
    if old is None or new is None or not isinstance(new, str):
        return None
    kind = _kind(old)
    if kind is None:
        return None
    shown = repr(old) if len(repr(old)) <= 60 else repr(old)[:57] + '...'
    return (f'--cfg-options {key}={new}: {key} is {kind} in the config ({shown}), and '
            f'{new!r} is not. Give {kind}, e.g. {key}={shown}.')


def check_cfg_options(cfg: Config, options: Dict[str, Any]) -> None:
    """Check ``options`` (``DictAction``'s dict) against ``cfg`` before they are merged.

    Raises:
        ConfigError: a key that is neither in the config nor accepted by its dict's type, or
            a value of the wrong type.
    """
    for key, new in options.items():
        parts = key.split('.')
        node: Any = cfg
        typed_above = False  # a dict with a 'type' above the current node
        for depth, part in enumerate(parts):
            child = _child(node, part)
            if child is _MISSING:
                if depth == 0 and part in _runner_keys():
                    break
                if depth == len(parts) - 1 and _accepts(cfg, parts, depth, node, typed_above):
                    break
                raise ConfigError(_unknown_key_message(key, parts, depth, node))
            typed_above = typed_above or (isinstance(node, dict) and 'type' in node)
            node = child
        else:
            problem = _type_problem(key, node, new)
            if problem:
                raise ConfigError(problem)
