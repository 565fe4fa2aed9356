"""What torch's ``weights_only`` unpickler may build besides tensors and containers.

torch >= 2.6 loads with ``weights_only=True`` by default. mmengine 0.10.x calls ``torch.load``
without adapting, and its checkpoints hold more than tensors: the message hub's
``HistoryBuffer`` objects and numpy arrays and scalars. Resume and ``load_from`` then fail.

Rather than turning the check off for every file, mmsola allow-lists exactly the globals that
mmengine's own checkpoints contain (:func:`allow_mmengine_checkpoint_globals`, called by
``import mmsola``). Anything else in a file (arbitrary classes, functions) is still refused by
torch.

One of them needs care: ``HistoryBuffer.__getstate__`` stores its statistics methods, which
pickle writes as ``getattr(HistoryBuffer, 'min')``. Allow-listing ``builtins.getattr`` would
let a file fetch any attribute of any object it can name; instead the name ``builtins.getattr``
is bound to :func:`history_buffer_method`, which resolves only HistoryBuffer's own methods.

Foreign training files carry their script's config too: MLLA's ``main.py`` saves its yacs
config object (``yacs.config.CfgNode``) next to the weights, and the reading process need not
have yacs installed. :func:`inert_configs` allow-lists such classes, for one load, under their
pickled names, bound to :class:`InertConfig`: they are rebuilt as plain ``OrderedDict`` trees
of their items and none of their code is imported or run.
"""
import contextlib
import pickle
from collections import OrderedDict
from typing import Any, ContextManager, Iterable, List

import numpy as np
import torch

# pickled config classes of training scripts, read as data (see InertConfig)
FOREIGN_CONFIG_CLASSES = ('yacs.config.CfgNode', )


def _numpy_globals() -> List[object]:
    """The numpy callables and types pickled with arrays, scalars and dtypes."""
    try:  # numpy >= 2 keeps them in numpy._core
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    dtype_classes = {type(np.dtype(t)) for t in np.typecodes['All'] if t not in 'OMm'}
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *sorted(dtype_classes, key=lambda c: c.__name__)]


def history_buffer_method(owner: Any, name: str) -> Any:
    """``getattr`` restricted to the public methods defined on mmengine's ``HistoryBuffer``."""
    from mmengine.logging import HistoryBuffer
    if (owner is not HistoryBuffer or name.startswith('_')
            or not callable(vars(HistoryBuffer).get(name))):
        raise pickle.UnpicklingError(
            f'refusing getattr({owner!r}, {name!r}) while loading a checkpoint: mmsola allows '
            'getattr only for the statistics methods of mmengine.logging.HistoryBuffer')
    return getattr(owner, name)


def _mmengine_globals() -> List[object]:
    """The mmengine objects stored in a Runner checkpoint's ``message_hub``."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (history_buffer_method, 'builtins.getattr')]


MMENGINE_CHECKPOINT_GLOBALS: List[object] = _numpy_globals() + _mmengine_globals()


def allow_mmengine_checkpoint_globals() -> None:
    """Register :data:`MMENGINE_CHECKPOINT_GLOBALS` with torch's weights-only unpickler, for
    the whole process.

    A no-op on torch versions without ``torch.serialization.add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)


class InertConfig:
    """Stand-in for a pickled config class (a ``dict`` subclass such as yacs' ``CfgNode``).

    Its ``__new__`` returns a plain ``OrderedDict``, which the weights-only unpickler fills
    with the config's items; the class's own attributes (yacs' ``__immutable__`` flags) land
    in that dict's ``__dict__``. Nothing of the original class is imported or called.
    """

    def __new__(cls, *args, **kwargs):
        return OrderedDict()


def inert_configs(config_classes: Iterable[str]) -> ContextManager:
    """A context in which torch's weights-only loader reads the pickled classes named in
    ``config_classes`` (e.g. ``'yacs.config.CfgNode'``) as :class:`InertConfig` data.

    Only the stand-ins are listed: torch's ``safe_globals`` context removes what it added on
    exit, so listing mmengine's types here would take them off the process-wide allow-list
    (resume and ``load_from`` would then fail); they are allowed for the load all the same.
    """
    names = list(config_classes)
    if not names:
        return contextlib.nullcontext()
    allow_mmengine_checkpoint_globals()
    return torch.serialization.safe_globals([(InertConfig, name) for name in names])
