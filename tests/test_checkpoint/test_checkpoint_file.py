"""mmsola.utils.read_checkpoint: one clear CheckpointError per way a file can be wrong, and a
hostile pickle is refused without running anything."""
import pickle

import pytest
import torch

from mmsola.utils import CheckpointError, load_checkpoint_dict, read_checkpoint
from tests.support.bad_files import bad_checkpoints, hostile_ran


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'not_a_dict', 'hostile'])
def test_each_bad_checkpoint_has_its_message(kind, tmp_path):
    path, words = bad_checkpoints(tmp_path)[kind]
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(str(path), '--resume')
    message = str(error.value)
    assert message.startswith(f"--resume '{path}'")
    for word in words:
        assert word in message
    assert 'weights_only=False' not in message  # never the advice to run the file's code
    assert not hostile_ran(tmp_path)


def test_missing_folder_and_text_files(tmp_path):
    with pytest.raises(CheckpointError, match='no such file'):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    with pytest.raises(CheckpointError, match='is not a file'):
        read_checkpoint(str(tmp_path))
    text = tmp_path / 'notes.pth'
    text.write_text('hello, not a checkpoint')
    with pytest.raises(CheckpointError, match=r"not a checkpoint written by torch.save \(23 "
                       r"bytes, starting with b'hello, n'"):
        read_checkpoint(str(text))


def test_a_plain_pickle_asking_for_a_global_names_it(tmp_path):
    """An old-style (non-zip) pickle file, protocol 2, as torch.save once wrote them."""
    path = tmp_path / 'legacy.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': {}, 'run': print}, f, protocol=2)
    with pytest.raises(CheckpointError, match='global print'):
        read_checkpoint(str(path))


def test_good_checkpoints_load_memory_mapped_or_not(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save(dict(state_dict={'w': torch.arange(3.)}), path)
    for mmap in (False, True):
        assert torch.equal(read_checkpoint(str(path), mmap=mmap)['state_dict']['w'],
                           torch.arange(3.))
    legacy = tmp_path / 'legacy.pth'
    torch.save({'w': torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(read_checkpoint(str(legacy), mmap=True)['w'], torch.ones(2))
    assert torch.equal(load_checkpoint_dict(str(path))['state_dict']['w'], torch.arange(3.))
