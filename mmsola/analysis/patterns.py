"""Which layer patterns a sweep or study covers: explicit ones and the placement rule.

The rule puts k 'S' blocks into one stage (1-based, as in the paper) at the end of k equal
runs of blocks and keeps the other stages as a base pattern: tiny's stage 3 with k = 2 gives
LLLSLLLS, small's with k = 3 gives (LLLLLLS)x3. ``tools/analysis/pattern_sweep.py`` (cost)
and ``projects/pattern_study/`` (accuracy) share it. :func:`compare_patterns` gives
a hybrid's all-linear and all-softmax siblings (the ERF and speed comparisons).
"""
import argparse
import math
from typing import Dict, List, Optional, Sequence

from mmsola.errors import ArgumentError
from mmsola.models.backbones.layer_pattern import parse_layer_pattern


def evenly_spaced(k: int, depth: int) -> List[int]:
    """Positions (0-based) of k blocks among ``depth``: the last block of each of k equal runs."""
    if not 0 <= k <= depth:
        raise ArgumentError(f'cannot place {k} softmax blocks in a stage of {depth} blocks')
    return [math.floor((j + 1) * depth / k + 0.5) - 1 for j in range(k)]


def rule_patterns(base: Sequence[str], stage: int, counts: Sequence[int]) -> List[List[str]]:
    """Patterns with k 'S' blocks evenly spaced in ``stage`` (0-based) and 'L' elsewhere in it;
    the other stages as ``base``."""
    patterns = []
    for k in counts:
        blocks = ['L'] * len(base[stage])
        for pos in evenly_spaced(k, len(blocks)):
            blocks[pos] = 'S'
        pattern = list(base)
        pattern[stage] = ''.join(blocks)
        patterns.append(pattern)
    return patterns


def add_pattern_args(parser: argparse.ArgumentParser, base_default: str) -> None:
    """The command-line choice of patterns that :func:`collect_patterns` reads: ``--patterns``,
    and the rule's ``--softmax-blocks``, ``--stage`` and ``--base-pattern`` (whose default
    ``base_default`` names, e.g. "the arch's pattern")."""
    parser.add_argument('--patterns', nargs='+', default=None,
                        help="layer patterns, stages separated by '/'")
    parser.add_argument('--softmax-blocks', type=int, nargs='+', default=None, metavar='K',
                        help='the rule: K softmax blocks evenly spaced in --stage, per K')
    parser.add_argument('--stage', type=int, default=3, help='stage of the rule (1-based)')
    parser.add_argument('--base-pattern', default=None,
                        help=f"the rule's other stages (default: {base_default})")


def collect_patterns(explicit: Optional[Sequence[str]], base: Sequence[str],
                     counts: Optional[Sequence[int]] = None,
                     stage: int = 3) -> List[List[str]]:
    """The explicit patterns (``'L/LL/LLLS/LS'`` strings) followed by the rule's (``counts``
    'S' blocks in ``stage``, 1-based, of ``base``), without repeats, in that order.

    Raises:
        ValueError: a pattern is malformed, the stage does not exist, or nothing is asked.
    """
    base = parse_layer_pattern(base)
    patterns = [parse_layer_pattern(p) for p in explicit or []]
    if counts:
        if not 1 <= stage <= len(base):
            raise ArgumentError(f'--stage {stage}: stages are numbered 1..{len(base)}')
        patterns += rule_patterns(base, stage - 1, counts)
    unique = []
    for p in patterns:
        if p not in unique:
            unique.append(p)
    if not unique:
        raise ArgumentError('nothing to sweep: give --patterns and/or --softmax-blocks')
    return unique


def compare_patterns(pattern: Sequence[str]) -> Dict[str, List[str]]:
    """A hybrid pattern with its all-linear and all-softmax (every block 'S') siblings:
    ``{'all-linear': ..., 'hybrid': pattern, 'all-softmax': ...}``."""
    return {'all-linear': ['L' * len(s) for s in pattern], 'hybrid': list(pattern),
            'all-softmax': ['S' * len(s) for s in pattern]}


def pattern_text(pattern: Sequence[str]) -> str:
    """``['L', 'LS']`` -> ``'L/LS'``."""
    return '/'.join(pattern)


def softmax_per_stage(pattern: Sequence[str]) -> str:
    """'S' blocks per stage, an 'H' block counting half: ``'0/0/1/0.5'``."""
    counts = [s.count('S') + 0.5 * s.count('H') for s in pattern]
    return '/'.join(f'{c:g}' for c in counts)
