"""mmsola.checkpoint: the key diff and its report, the state dict and its prefix, and foreign
checkpoints read weights-only with their config objects as data."""
import pickle
import sys
import types
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import HistoryBuffer
from torch import nn

from mmsola.checkpoint import (
    BN_COUNTERS,
    FOREIGN_CONFIG_CLASSES,
    CheckpointError,
    KeyDiff,
    diff_keys,
    drop_keys,
    read_checkpoint,
    select_prefix,
    state_dict_of,
)
from mmsola.convert import ConversionError, load_foreign_checkpoint
from tests.support.bad_files import bad_checkpoints, hostile_ran


# ------------------------------------------------------------------------------ key diff
def _model_shapes():
    return OrderedDict([('stem.weight', (8, 3)), ('stem.bn.num_batches_tracked', ()),
                        ('stages.0.weight', (8, 8)), ('stages.1.weight', (16, 8)),
                        ('head.weight', (5, 16))])


def test_diff_names_missing_unexpected_and_other_shapes_in_order():
    state = {'head.weight': torch.zeros(7, 16), 'stem.weight': torch.zeros(8, 3),
             'extra.bias': torch.zeros(1), 'stages.1.weight': torch.zeros(16, 8)}
    diff = diff_keys(_model_shapes(), state)
    assert diff.missing == ['stem.bn.num_batches_tracked', 'stages.0.weight']
    assert diff.unexpected == ['extra.bias']
    assert diff.mismatched == [('head.weight', (7, 16), (5, 16))]
    assert (diff.total, diff.matched) == (5, 2) and diff
    assert diff.summary() == '2 missing, 1 unexpected, 1 of another shape'
    assert diff.shape_lines() == ['head.weight: checkpoint (7, 16) vs model (5, 16)']
    # BN step counters may be absent: neither counted nor missing
    optional = diff_keys(_model_shapes(), state, optional=BN_COUNTERS)
    assert optional.missing == ['stages.0.weight'] and optional.total == 4
    # a model's own state dict (tensors) compares like its shapes
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert not diff_keys(model.state_dict(), model.state_dict())
    assert diff_keys(model.state_dict(), {}).matched == 0


def test_report_names_a_few_keys_per_kind_and_counts_them_per_module():
    diff = KeyDiff(total=20, missing=[f'backbone.norm{i}.weight' for i in range(4)]
                   + [f'decode_head.conv{i}.weight' for i in range(4)],
                   unexpected=['head.fc.weight', 'head.fc.bias'],
                   mismatched=[('decode_head.conv_seg.weight', (19, 4), (150, 4))])
    message = diff.message("checkpoint 'x.pth' does not fit the model", 'Use another one.')
    lines = message.split('\n')
    assert lines[0] == ("checkpoint 'x.pth' does not fit the model: 8 missing, 2 unexpected, "
                        '1 of another shape.')
    assert lines[1] == ('  missing: backbone.norm0.weight, backbone.norm1.weight, '
                        'backbone.norm2.weight, backbone.norm3.weight, '
                        'decode_head.conv0.weight ... (+3 more) [backbone: 4, decode_head: 4]')
    assert lines[2] == '  unexpected: head.fc.weight, head.fc.bias [head: 2]'
    assert lines[3] == ('  shape mismatches: decode_head.conv_seg.weight: checkpoint (19, 4) '
                        'vs model (150, 4) [decode_head: 1]')
    assert lines[4:] == ['Use another one.']
    # a kind without keys has no line
    assert KeyDiff(3, missing=['a.b']).details() == ['  missing: a.b [a: 1]']
    assert not KeyDiff(3) and KeyDiff(3).matched == 3


# ------------------------------------------------------------- state dict and prefix
def _classifier_state() -> OrderedDict:
    """A classifier's state dict (backbone with a BatchNorm, head) with its metadata."""
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    model.head = nn.Linear(4, 2)
    return model.state_dict()


def test_select_prefix_strips_or_keeps_it_and_carries_the_metadata():
    state = _classifier_state()
    backbone = select_prefix(state, 'backbone')  # the dot is added
    assert list(backbone) == [k[len('backbone.'):] for k in state if k.startswith('backbone.')]
    assert list(backbone._metadata) == ['', '0', '1']
    assert backbone._metadata['1'] == state._metadata['backbone.1']  # BN's version
    # loads into the submodule strictly, with the BN version the load hook reads
    target = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    target.load_state_dict(backbone, strict=True)
    kept = select_prefix(state, 'backbone.', strip=False)
    assert list(kept) == [k for k in state if k.startswith('backbone.')]
    assert list(kept._metadata) == ['backbone', 'backbone.0', 'backbone.1']
    assert select_prefix({'backbones.x': 1}, 'backbone.') == {}  # a prefix ends at its dot
    dropped = drop_keys(state, {'head.weight'})
    assert 'head.weight' not in dropped and 'head.bias' in dropped
    assert dropped._metadata is state._metadata


def test_state_dict_of_takes_the_first_weights_entry_or_the_dict_itself():
    weights = {'w': torch.zeros(1)}
    assert state_dict_of({'state_dict': weights, 'meta': {}}) is weights
    assert state_dict_of({'model': weights, 'epoch': 3}) is weights  # timm / MLLA scripts
    assert state_dict_of(weights) is weights  # a bare state dict
    runner_only = {'model': weights}
    assert state_dict_of(runner_only, entries=('state_dict', )) is runner_only
    with pytest.raises(CheckpointError, match="x.pth: its 'state_dict' entry is a list, not"):
        state_dict_of({'state_dict': [1]}, 'x.pth')


# ------------------------------------------------------------------ foreign checkpoints
def _save_with_config_class(path) -> str:
    """Save a training file whose config object is a dict subclass that exists only while
    the file is written (as yacs' CfgNode in a process without yacs); its pickled name."""
    package, module = types.ModuleType('fakecfg'), types.ModuleType('fakecfg.config')

    class Node(dict):
        pass

    Node.__module__, Node.__qualname__ = 'fakecfg.config', 'Node'
    module.Node = Node
    sys.modules['fakecfg'], sys.modules['fakecfg.config'] = package, module
    try:
        config = Node(MODEL=Node(DEPTHS=[1, 2]))
        config.__dict__['frozen'] = True
        torch.save({'model': {'w': torch.arange(3.)}, 'config': config}, path)
    finally:
        del sys.modules['fakecfg'], sys.modules['fakecfg.config']
    return 'fakecfg.config.Node'


def test_a_foreign_config_class_is_read_as_data_and_only_when_asked(tmp_path):
    path = tmp_path / 'foreign.pth'
    name = _save_with_config_class(path)
    with pytest.raises(CheckpointError, match=rf'was refused by torch.load\(weights_only=True\)'
                       rf'.*GLOBAL {name}'):
        read_checkpoint(str(path))
    ckpt = read_checkpoint(str(path), config_classes=(name, ))
    assert type(ckpt['config']) is OrderedDict and type(ckpt['config']['MODEL']) is OrderedDict
    assert ckpt['config']['MODEL']['DEPTHS'] == [1, 2]
    assert torch.equal(ckpt['model']['w'], torch.arange(3.))
    assert 'fakecfg' not in sys.modules  # nothing of the class was imported
    # the stand-in was allowed for that load only; mmengine's types stay allowed
    with pytest.raises(CheckpointError, match=f'GLOBAL {name}'):
        read_checkpoint(str(path))
    assert HistoryBuffer in torch.serialization.get_safe_globals()
    runner_file = tmp_path / 'runner.pth'
    torch.save({'message_hub': {'loss': HistoryBuffer([1., 2.], [1, 1])}}, runner_file)
    assert read_checkpoint(str(runner_file))['message_hub']['loss'].mean() == 1.5


def test_a_foreign_file_gets_the_messages_of_every_checkpoint(tmp_path):
    """mmsola.convert's reader is the one reader: same checks, same words."""
    checkpoints = bad_checkpoints(tmp_path)
    for path in [p for p, _ in checkpoints.values()] + [tmp_path / 'missing.pth']:
        with pytest.raises(CheckpointError) as plain:
            read_checkpoint(str(path))
        with pytest.raises(ConversionError) as foreign:
            load_foreign_checkpoint(str(path))
        assert str(foreign.value) == str(plain.value)
    hostile, words = checkpoints['hostile']
    with pytest.raises(CheckpointError) as refused:
        read_checkpoint(str(hostile), config_classes=FOREIGN_CONFIG_CLASSES)
    assert all(word in str(refused.value) for word in words)
    assert not hostile_ran(tmp_path)


def test_a_plain_pickle_of_a_foreign_class_is_refused_too(tmp_path):
    """An old-style (non-zip) file asking for the config class it was not told about."""
    path = tmp_path / 'legacy.pth'
    with open(path, 'wb') as f:
        pickle.dump({'model': {}, 'run': print}, f, protocol=2)
    with pytest.raises(CheckpointError, match='global .*print'):
        read_checkpoint(str(path), config_classes=('yacs.config.CfgNode', ))
