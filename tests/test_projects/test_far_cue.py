"""The far-cue dataset of the pattern study: the object's class is a far marker's colour;
and python -m projects.pattern_study.make_far_cue_dataset, which builds it."""
import sys

import numpy as np
import pytest

from projects.pattern_study.far_cue import (
    COLOURS,
    ensure_far_cue_dataset,
    read_manifest,
    render_far_cue,
)
from tests.support import tool_runs

MAKE_FAR_CUE = [sys.executable, '-m', 'projects.pattern_study.make_far_cue_dataset']


def _vertical(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask)
    return np.ptp(rows) > np.ptp(cols)


def _markers(image: np.ndarray) -> dict:
    """{class index: (H, W) mask} of the saturated (marker) pixels, by nearest colour."""
    pixels = image.astype(np.float32)
    saturated = pixels.max(-1) - pixels.min(-1) > 60
    nearest = np.linalg.norm(pixels[..., None, :] - COLOURS, axis=-1).argmin(-1)
    return {int(c): saturated & (nearest == c) for c in np.unique(nearest[saturated])}


@pytest.mark.parametrize('markers', [1, 2])
def test_object_takes_the_colour_of_its_far_marker(markers):
    size, seen = 64, set()
    for i in range(40):
        image, label, cls = render_far_cue(np.random.default_rng([7, i]), size, markers)
        obj = label >= 2
        assert set(np.unique(label[obj])) == {2 + cls}
        assert set(np.unique(label[~obj])) == {1}  # markers are background, nothing ignored
        found = _markers(image)
        assert len(found) == markers and all(m.sum() > 20 for m in found.values())
        if markers == 1:
            assert list(found) == [cls]
        else:  # two different colours, one vertical and one horizontal bar
            assert sorted(_vertical(m) for m in found.values()) == [False, True]
            assert _vertical(found[cls]) == _vertical(obj)
        centre = np.argwhere(obj).mean(0)
        for mask in found.values():  # the cue is far: about half the image away
            assert np.linalg.norm(np.argwhere(mask).mean(0) - centre) > 0.3 * size
        seen.add(cls)
    assert seen == {0, 1, 2}


def test_dataset_is_reused_and_other_settings_are_refused(tmp_path):
    root, built = ensure_far_cue_dataset(tmp_path / 'd', num_train=3, num_val=2, image_size=32)
    assert built and read_manifest(root)['markers'] == 1
    assert sorted(p.name for p in (root / 'annotations' / 'training').iterdir()) == \
        sorted(p.name for p in (root / 'images' / 'training').iterdir())
    assert ensure_far_cue_dataset(root, num_train=3, num_val=2, image_size=32) == (root, False)
    with pytest.raises(ValueError, match='markers: 1 there, 2 asked'):
        ensure_far_cue_dataset(root, num_train=3, num_val=2, image_size=32, markers=2)
    with pytest.raises(ValueError, match='markers must be one of'):
        ensure_far_cue_dataset(tmp_path / 'e', markers=3)


def test_make_far_cue_dataset_tool_builds_then_refuses_other_settings(tmp_path):
    """The tool as a process builds the dataset and says what it holds; asked for other
    settings on the same root, one error line and exit status 2."""
    root = tmp_path / 'far_cue'
    run = tool_runs.run_cli([*MAKE_FAR_CUE, str(root), '--num-train', '3', '--num-val', '2',
                             '--image-size', '32'])
    assert run.returncode == 0, run.stderr
    assert f'{root} (built): 3 train / 2 val images of 32x32, 1 marker(s)' in run.stdout
    assert read_manifest(root)['num_train'] == 3
    assert len(list((root / 'images' / 'training').iterdir())) == 3
    again = tool_runs.run_cli([*MAKE_FAR_CUE, str(root), '--num-train', '3', '--num-val', '2',
                               '--image-size', '32', '--markers', '2'])
    assert again.returncode == 2
    assert 'Traceback' not in again.stderr
    assert again.stderr.strip().splitlines()[-1].startswith(
        f'make_far_cue_dataset.py: error: the dataset at {root} was built with other settings '
        '(markers: 1 there, 2 asked)')
