"""layer_pattern: the lengths define the depths; bad patterns are precise ValueErrors (and
mmsola UserErrors)."""
import pytest

from mmsola.models import SoLAVision
from mmsola.models.backbones import parse_layer_pattern


def test_pattern_defines_depths_and_block_kinds():
    model = SoLAVision('tiny', embed_dims=16, layer_pattern=['L', 'SH', 'LLS', 'H'])
    assert model.depths == [1, 2, 3, 1]
    kinds = [[b.mixer.kind for b in s.blocks] for s in model.stages]
    assert kinds == [['L'], ['S', 'H'], ['L', 'L', 'S'], ['H']]


def test_slash_separated_string_is_accepted():
    assert parse_layer_pattern('LL/LLLL/LLLSLLLS/LLLS') == ['LL', 'LLLL', 'LLLSLLLS', 'LLLS']


def test_bad_character_names_stage_position_char_and_valid_set():
    with pytest.raises(ValueError) as err:
        SoLAVision('tiny', embed_dims=16, layer_pattern=['LL', 'LLLL', 'LLLXLLLS', 'LLLS'])
    msg = str(err.value)
    assert 'stage 2' in msg and 'position 3' in msg and "'X'" in msg
    assert "'L'" in msg and "'S'" in msg and "'H'" in msg


def test_wrong_number_of_stages():
    with pytest.raises(ValueError, match='layer_pattern has 3 stages, the backbone has 4'):
        SoLAVision('tiny', embed_dims=16, layer_pattern=['LL', 'LLLL', 'LLLS'])


def test_length_disagreeing_with_explicit_depths():
    with pytest.raises(ValueError) as err:
        SoLAVision('tiny', embed_dims=16, depths=[2, 4, 8, 4],
                   layer_pattern=['LL', 'LLL', 'LLLSLLLS', 'LLLS'])
    msg = str(err.value)
    assert 'stage 1' in msg and "'LLL'" in msg and 'depths[1] = 4' in msg
    assert "'L'" in msg and "'S'" in msg and "'H'" in msg


@pytest.mark.parametrize('pattern,match', [
    (['LL', '', 'L', 'L'], 'stage 1 is empty'),
    (['LL', 'L', 'l', 'L'], "stage 2 .*position 0: invalid block kind 'l'"),
    ('LLLL', 'layer_pattern has 1 stages'),
    ([1, 2, 3, 4], 'sequence of strings'),
])
def test_other_malformed_patterns(pattern, match):
    with pytest.raises(ValueError, match=match):
        parse_layer_pattern(pattern)


def test_a_bad_pattern_in_a_config_is_one_line_from_a_tool(capsys):
    """Built by a toolkit's registry, as a config builds it: still a ValueError, and a
    UserError, so a tool prints one ``<tool>.py: error:`` line (exit status 2) instead of a
    traceback."""
    from mmengine.registry import MODELS

    from mmsola.cli import run_tool
    from mmsola.errors import UserError
    cfg = dict(type='SoLAVision', arch='tiny', layer_pattern=['LX', 'L', 'L', 'L'])
    with pytest.raises(UserError, match="stage 0 .*position 1: invalid block kind 'X'"):
        MODELS.build(cfg)
    assert run_tool('train.py', lambda: MODELS.build(cfg)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith('train.py: error: ')
    with pytest.raises(UserError, match='unknown arch'):
        SoLAVision('huge')
