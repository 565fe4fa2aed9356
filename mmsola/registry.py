"""The ``mmsola`` scope of mmengine's registries, for configs inherited as ``mmsola::``.

mmsola registers its modules in mmengine's root registries, where mmdet, mmseg and mmpretrain
find them. A user's config that inherits ``'mmsola::upernet/upernet_sola_t_ade20k.py'`` gets
``_scope_='mmsola'`` on each top-level dict of mmsola's configs that has no scope yet (the
hooks, optimizer wrapper and LR schedules mmsola's configs set themselves); to build one,
mmengine imports ``mmsola.registry`` and looks for registries of scope ``mmsola``. These are
empty children of the roots: a lookup falls through to the root, where mmsola's and mmengine's
modules are (importing ``mmsola``, their location, registers those). Without them mmengine
would warn that mmsola "is not installed" and fall back to the registry at hand.
"""
from mmengine.registry import Registry, root

SCOPE = 'mmsola'


def _child(parent: Registry) -> Registry:
    return Registry(parent.name, parent=parent, scope=SCOPE, locations=[SCOPE])


RUNNERS = _child(root.RUNNERS)
RUNNER_CONSTRUCTORS = _child(root.RUNNER_CONSTRUCTORS)
LOOPS = _child(root.LOOPS)
HOOKS = _child(root.HOOKS)
STRATEGIES = _child(root.STRATEGIES)
DATASETS = _child(root.DATASETS)
DATA_SAMPLERS = _child(root.DATA_SAMPLERS)
TRANSFORMS = _child(root.TRANSFORMS)
MODELS = _child(root.MODELS)
MODEL_WRAPPERS = _child(root.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child(root.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child(root.OPTIMIZERS)
OPTIM_WRAPPERS = _child(root.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(root.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child(root.PARAM_SCHEDULERS)
METRICS = _child(root.METRICS)
EVALUATOR = _child(root.EVALUATOR)
TASK_UTILS = _child(root.TASK_UTILS)
VISUALIZERS = _child(root.VISUALIZERS)
VISBACKENDS = _child(root.VISBACKENDS)
LOG_PROCESSORS = _child(root.LOG_PROCESSORS)
INFERENCERS = _child(root.INFERENCERS)
FUNCTIONS = _child(root.FUNCTIONS)
