"""Parse and validate ``layer_pattern``: one string per stage, one character per block.

``'L'`` is a linear-attention block, ``'S'`` a global softmax-attention block and ``'H'`` an
intra-block hybrid (half of the heads of each kind). The string lengths define the depths.
"""
from typing import List, Optional, Sequence, Union

from mmsola.errors import ArgumentError

BLOCK_KINDS = {
    'L': 'linear attention',
    'S': 'global softmax attention',
    'H': 'intra-block hybrid (half the heads L, half S)',
}

PatternLike = Union[str, Sequence[str]]


def parse_layer_pattern(pattern: PatternLike, num_stages: int = 4,
                        depths: Optional[Sequence[int]] = None) -> List[str]:
    """Return ``pattern`` as a list of ``num_stages`` strings, or raise ArgumentError (a
    ValueError).

    Args:
        pattern: a sequence of strings (``['LL', 'LLLL', 'LLLSLLLS', 'LLLS']``) or one string
            with the stages separated by ``'/'`` (``'LL/LLLL/LLLSLLLS/LLLS'``).
        num_stages: the number of stages the backbone has.
        depths: explicit depths; when given, every stage's length must agree with them.
    """
    if isinstance(pattern, str):
        stages = pattern.split('/')
    elif isinstance(pattern, Sequence) and all(isinstance(s, str) for s in pattern):
        stages = list(pattern)
    else:
        raise ArgumentError('layer_pattern must be a sequence of strings (one per stage, e.g. '
                         f"['LL', 'LLLL', 'LLLSLLLS', 'LLLS']), got {pattern!r}")
    valid = ', '.join(f"'{k}' ({v})" for k, v in BLOCK_KINDS.items())
    if len(stages) != num_stages:
        raise ArgumentError(f'layer_pattern has {len(stages)} stages, the backbone has '
                         f'{num_stages}: give one string per stage, got {pattern!r}')
    for i, stage in enumerate(stages):
        if not stage:
            raise ArgumentError(f'layer_pattern stage {i} is empty; every stage needs at least '
                             f'one block of kind {valid}')
        for j, char in enumerate(stage):
            if char not in BLOCK_KINDS:
                raise ArgumentError(f'layer_pattern stage {i} ({stage!r}), position {j}: invalid '
                                 f'block kind {char!r}; valid kinds are {valid}')
    if depths is not None:
        depths = list(depths)
        if len(depths) != num_stages:
            raise ArgumentError(f'depths {depths} has {len(depths)} stages, the backbone has '
                             f'{num_stages}')
        for i, (stage, depth) in enumerate(zip(stages, depths)):
            if len(stage) != depth:
                raise ArgumentError(f'layer_pattern stage {i} ({stage!r}) has {len(stage)} '
                                 f'blocks but depths[{i}] = {depth}; the pattern lengths '
                                 'define the depths (drop depths or make them agree); '
                                 f'valid kinds are {valid}')
    return stages
