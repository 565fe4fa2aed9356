"""The demo dataset: deterministic bytes, loadable by mmseg's ADE20KDataset, every class in
every split, and a builder that never overwrites what it did not build."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demo import (
    CLASSES,
    METAINFO,
    build_demo_dataset,
    ensure_demo_dataset,
    read_manifest,
    verify_demo_dataset,
)
from demo.synthetic_ade import MANIFEST
from tests.support import tool_runs
from tests.support.paths import REPO_ROOT

SMALL = dict(num_train=5, num_val=3, image_size=64, progress=False)


def tree_bytes(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def small_root(tmp_path_factory) -> Path:
    return build_demo_dataset(tmp_path_factory.mktemp('demo') / 'sola_demo', seed=0, **SMALL)


def test_same_seed_same_bytes(small_root, tmp_path):
    again = build_demo_dataset(tmp_path / 'again', seed=0, **SMALL)
    first, second = tree_bytes(small_root), tree_bytes(again)
    assert len(first) == 2 * (5 + 3) + 2  # images, annotations, manifest, .gitignore
    assert first == second
    other = tree_bytes(build_demo_dataset(tmp_path / 'other', seed=1, **SMALL))
    assert other.keys() == first.keys()
    assert sum(other[k] != first[k] for k in first if k.endswith('.jpg')) == 8
    verify_demo_dataset(small_root)  # the manifest's hashes are those of the files


def test_ade20k_layout_loads_in_mmseg_with_every_class(small_root):
    from mmengine.registry import init_default_scope
    from mmseg.datasets import ADE20KDataset
    init_default_scope('mmseg')
    for split, num in (('training', 5), ('validation', 3)):
        dataset = ADE20KDataset(
            data_root=str(small_root), metainfo=METAINFO, pipeline=[dict(type='LoadAnnotations')],
            data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'))
        assert len(dataset) == num and dataset.metainfo['classes'] == CLASSES
        counts = np.zeros(256, np.int64)
        for i in range(num):
            seg = dataset[i]['gt_seg_map']
            assert seg.shape == (64, 64)
            counts += np.bincount(seg.ravel(), minlength=256)
        present = set(np.flatnonzero(counts))
        # every class 0..7 after mmseg's label mapping; 255 only for the unlabelled clutter
        assert present - {255} == set(range(len(CLASSES))), (split, present)
        assert counts[255] < 0.05 * counts.sum()


def test_reuse_and_refusals(small_root, tmp_path):
    before = tree_bytes(small_root)
    root, built = ensure_demo_dataset(small_root, seed=0, **SMALL)
    assert (root, built) == (small_root, False) and tree_bytes(small_root) == before
    with pytest.raises(ValueError, match='seed: 0 there, 1 asked'):
        ensure_demo_dataset(small_root, seed=1, **SMALL)
    stranger = tmp_path / 'not_a_dataset'
    stranger.mkdir()
    (stranger / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='no sola_demo.json'):
        ensure_demo_dataset(stranger, **SMALL)
    assert (stranger / 'keep.txt').read_text() == 'mine'
    with pytest.raises(ValueError, match='num_val must be an integer >= 3'):
        build_demo_dataset(tmp_path / 'tiny', num_val=2, progress=False)
    assert not (tmp_path / 'tiny').exists()


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    from demo import synthetic_ade

    def broken(*args, **kwargs):
        raise RuntimeError('disk full')

    monkeypatch.setattr(synthetic_ade, 'render_scene', broken)
    with pytest.raises(RuntimeError, match='disk full'):
        build_demo_dataset(tmp_path / 'root', **SMALL)
    assert list(tmp_path.iterdir()) == []  # neither root nor the partial build


def test_changed_file_is_reported(small_root, tmp_path):
    import shutil
    copy = tmp_path / 'copy'
    shutil.copytree(small_root, copy)
    victim = next((copy / 'annotations' / 'training').iterdir())
    victim.write_bytes(victim.read_bytes()[:-1])
    with pytest.raises(ValueError, match='1 file.* missing or changed'):
        verify_demo_dataset(copy)
    (copy / MANIFEST).unlink()
    assert read_manifest(copy) is None


def test_demo_config_names_the_dataset():
    from mmsola.checks import load_config
    cfg = load_config(str(REPO_ROOT / 'configs/demo/upernet_sola_demo.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'ADE20KDataset' and dataset.data_root == 'data/sola_demo'
        assert tuple(dataset.metainfo.classes) == CLASSES
        assert [list(c) for c in dataset.metainfo.palette] == METAINFO['palette']
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 8
    assert cfg.model.backbone.init_cfg is None  # from scratch: nothing to download
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='atomic_local')
    pattern = cfg.model.backbone.arch.layer_pattern
    assert 'S' in pattern[2] + pattern[3] and 'S' not in pattern[0] + pattern[1]


def test_imports_stay_light():
    """The demo is not in the package, and imports no plotting or toolkit."""
    import mmsola
    assert not (Path(mmsola.__file__).parent / 'demo').exists()
    code = ('import sys, demo; '
            'print(sorted(m for m in ("matplotlib", "mmseg", "mmcv") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO_ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == '[]'


def test_make_dataset_refuses_a_folder_it_did_not_build(tmp_path):
    """One ``make_dataset.py: error:`` line and exit status 2, the user's folder untouched."""
    (tmp_path / 'mine.txt').write_text('the user\'s file')
    for extra, words in (([], 'exists; pass --force to replace it, or --verify to check it'),
                         (['--force'], 'is not a demo dataset (no manifest); not deleting it')):
        run = tool_runs.run_cli([sys.executable, '-m', 'demo.make_dataset', str(tmp_path),
                                 *extra])
        assert run.returncode == 2, run.stderr
        assert run.stderr.strip().splitlines()[-1] == \
            f'make_dataset.py: error: {tmp_path} {words}'
        assert 'Traceback' not in run.stderr
    assert (tmp_path / 'mine.txt').read_text() == 'the user\'s file'


def test_make_dataset_tool_builds_the_dataset(small_root, tmp_path):
    """``python -m demo.make_dataset`` as a process: the same bytes as the library's build, and
    the table of class shares."""
    root = tmp_path / 'built'
    run = tool_runs.run_cli([sys.executable, '-m', 'demo.make_dataset', str(root), '--seed',
                             '0', '--num-train', '5', '--num-val', '3', '--image-size', '64'])
    assert run.returncode == 0, run.stderr
    assert tree_bytes(root) == tree_bytes(small_root)
    lines = run.stdout.splitlines()
    assert f'{root}: 5 train / 3 val images of 64x64, seed 0, 16 files' in lines
    table = lines[lines.index(f'{"class":<12}{"train px %":>11}{"val px %":>10}') + 1:]
    assert [row.split()[0] for row in table] == [*CLASSES, 'unlabelled']
