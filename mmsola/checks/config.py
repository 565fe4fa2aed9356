"""Load a config for one of the three toolkits, check it, and build its model.

Every mmsola config names its toolkit by ``default_scope`` (``'mmdet'``, ``'mmseg'`` or
``'mmpretrain'``) and imports mmsola through ``custom_imports``; the tools refuse a config
without either, before anything is built.
"""
import importlib
import os.path as osp
from typing import Optional

from mmengine.config import Config

from mmsola.errors import UserError
from mmsola.utils import import_toolkit

# default_scope -> what the toolkit does
TOOLKITS = {
    'mmdet': 'detection (mmdet)',
    'mmseg': 'semantic segmentation (mmsegmentation)',
    'mmpretrain': 'classification (mmpretrain)',
}


class ConfigError(UserError, ValueError):
    """A config that mmsola's tools cannot run; the message says what to change."""


def _check_custom_imports(cfg: Config, path: str) -> None:
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    if not any(name == 'mmsola' or name.startswith('mmsola.') for name in imports):
        raise ConfigError(
            f'{path} does not import mmsola, so SoLAVision is not registered when the config '
            "is built. Add this line to the config: custom_imports = dict(imports=['mmsola'], "
            'allow_failed_imports=False)')


def toolkit_of(cfg: Config) -> str:
    """The toolkit a config runs in, from its ``default_scope``.

    Raises:
        ConfigError: the scope is missing or not one of :data:`TOOLKITS`.
    """
    scope = cfg.get('default_scope')
    if scope not in TOOLKITS:
        known = ', '.join(f"'{k}' ({v})" for k, v in TOOLKITS.items())
        what = 'has no default_scope' if scope is None else f"has default_scope='{scope}'"
        raise ConfigError(
            f'{cfg.filename or "the config"} {what}; mmsola tools run configs of {known}. '
            "Inherit a toolkit base (e.g. _base_ = ['mmseg::_base_/default_runtime.py']) or "
            "set default_scope='mmdet' | 'mmseg' | 'mmpretrain'.")
    return scope


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config, merge ``cfg_options`` (``--cfg-options``), and check it.

    Args:
        path: the config file.
        cfg_options: dotted-key overrides, as ``DictAction`` parses them.

    Raises:
        ConfigError: the file does not exist, lacks mmsola in ``custom_imports``, has a
            scope that is not a supported toolkit, or ``cfg_options`` name a key the config
            does not have or give a value of the wrong type
            (:func:`~mmsola.checks.cfg_options.check_cfg_options`).
    """
    if not osp.isfile(path):
        raise ConfigError(f'config file {path!r} does not exist; the configs shipped with '
                          'mmsola are under configs/ (e.g. configs/upernet_sola_t_ade20k.py)')
    cfg = Config.fromfile(path)
    _check_custom_imports(cfg, path)
    toolkit_of(cfg)
    if cfg_options:
        from .cfg_options import check_cfg_options
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def init_toolkit(cfg: Config):
    """Import the config's toolkit (version-checked) and make it the default scope.

    Returns:
        the toolkit's ``registry`` module (e.g. ``mmseg.registry``).
    """
    from mmengine.registry import init_default_scope
    scope = toolkit_of(cfg)
    import_toolkit(scope)
    init_default_scope(scope)
    return importlib.import_module(f'{scope}.registry')


def build_model(cfg: Config, device: str = 'cpu', init_weights: bool = False):
    """Build ``cfg.model`` in its toolkit, on ``device``, in eval mode.

    SyncBN layers become BatchNorm (a single process cannot synchronise), as mmengine's Runner
    does outside distributed training. With ``init_weights`` the model's ``init_cfg`` runs
    (e.g. loads the backbone's Pretrained checkpoint); otherwise the weights are the
    constructors' random init, to be overwritten by a checkpoint.
    """
    from mmengine.model import revert_sync_batchnorm
    registry = init_toolkit(cfg)
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # top-level, as Runner.from_cfg merges it
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = registry.MODELS.build(model_cfg)
    if init_weights:
        model.init_weights()
    model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def set_work_dir(cfg: Config, work_dir: Optional[str], config_path: str) -> None:
    """``cfg.work_dir``: ``work_dir`` if given, else the config's own, else
    ``work_dirs/<config name>`` (the OpenMMLab tools' rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])
