"""How a state dict differs from a model's, key by key, and the report a user reads.

:func:`diff_keys` compares names and shapes; :meth:`KeyDiff.message` writes the report that
every mmsola loader and check gives: a summary, then a few keys of each kind with their count
per top-level module, then what to do, e.g. (a classifier checkpoint for a segmentor)::

    checkpoint 'in1k.pth' does not fit the model of upernet.py (402 keys): 68 missing, ...
      missing: backbone.norm0.weight, backbone.norm0.bias, ... [backbone: 6, decode_head: 48, ...]
      unexpected: head.fc.weight, head.fc.bias [head: 2]
    Use a checkpoint written by a run of this config (...).
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence, Tuple

Shape = Tuple[int, ...]
# BN step counters: not weights, and a checkpoint may lack them
BN_COUNTERS = ('num_batches_tracked', )
EXAMPLES = 5  # keys named per kind of difference: a few of each, not hundreds


def _shape(value: Any) -> Shape:
    """A tensor's shape, or a shape given as such."""
    return tuple(value.shape) if hasattr(value, 'shape') else tuple(value)


@dataclass
class KeyDiff:
    """The model's keys that a state dict lacks, has with another shape, or has beyond them.

    Attributes:
        total: the model keys compared (optional ones such as BN counters aside).
        missing: model keys absent from the state dict, in model order.
        unexpected: state dict keys the model does not have, in state dict order.
        mismatched: ``(key, checkpoint shape, model shape)`` of the keys both have with
            different shapes, in model order.
    """
    total: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, Shape, Shape]] = field(default_factory=list)

    def __bool__(self) -> bool:
        """True when there is any difference."""
        return bool(self.missing or self.unexpected or self.mismatched)

    @property
    def matched(self) -> int:
        """Model keys the state dict has with the same shape."""
        return self.total - len(self.missing) - len(self.mismatched)

    def summary(self) -> str:
        """E.g. ``'3 missing, 0 unexpected, 2 of another shape'``."""
        return (f'{len(self.missing)} missing, {len(self.unexpected)} unexpected, '
                f'{len(self.mismatched)} of another shape')

    def shape_lines(self) -> List[str]:
        """``'key: checkpoint (a, b) vs model (c, d)'`` per mismatched key."""
        return [f'{k}: checkpoint {ckpt} vs model {own}' for k, ckpt, own in self.mismatched]

    def details(self, examples: int = EXAMPLES) -> List[str]:
        """One indented line per kind of difference, naming a few keys and counting them per
        top-level module."""
        lines = []
        for label, keys, entries in (('missing', self.missing, self.missing),
                                     ('unexpected', self.unexpected, self.unexpected),
                                     ('shape mismatches', [k for k, _, _ in self.mismatched],
                                      self.shape_lines())):
            if keys:
                more = (f' ... (+{len(keys) - examples} more)' if len(keys) > examples else '')
                lines.append(f'  {label}: {", ".join(entries[:examples])}{more} '
                             f'[{_by_module(keys)}]')
        return lines

    def message(self, subject: str, advice: str = '') -> str:
        """``'<subject>: <summary>.'``, the :meth:`details` and ``advice``, one per line."""
        return '\n'.join([f'{subject}: {self.summary()}.', *self.details(),
                          *([advice] if advice else [])])


def _by_module(keys: Sequence[str]) -> str:
    """How many keys per top-level module, e.g. ``'decode_head: 62, backbone: 6'``."""
    counts: Dict[str, int] = {}
    for key in keys:
        top = key.split('.')[0]
        counts[top] = counts.get(top, 0) + 1
    return ', '.join(f'{name}: {n}' for name, n in counts.items())


def diff_keys(model: Mapping[str, Any], state_dict: Mapping[str, Any],
              optional: Sequence[str] = ()) -> KeyDiff:
    """Compare a state dict with a model's, key by key.

    Args:
        model: the model's ``{key: tensor or shape}`` (``module.state_dict()``, or shapes
            from a skeleton built on the ``meta`` device).
        state_dict: the checkpoint's ``{key: tensor}``, prefix already removed; values
            without a shape are compared by name only.
        optional: suffixes of model keys that are neither counted nor reported missing
            (e.g. :data:`BN_COUNTERS`).
    """
    own = {k: _shape(v) for k, v in model.items() if not k.endswith(tuple(optional))}
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in model]
    mismatched = [(k, _shape(state_dict[k]), shape) for k, shape in own.items()
                  if k in state_dict and hasattr(state_dict[k], 'shape')
                  and _shape(state_dict[k]) != shape]
    return KeyDiff(len(own), missing, unexpected, mismatched)
