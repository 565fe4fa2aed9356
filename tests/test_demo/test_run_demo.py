"""The demo's whole path, shrunk to a few iterations: dataset, tools/train.py, mmseg's
IoUMetric, metrics JSON, both PNGs, a checkpoint tools/test.py takes as is; and a rerun that
keeps the dataset and the first run's outputs. The first run is ``python -m demo.run_demo`` as
a process, the rerun the library's steps in this process (demo.pipeline.run_demo: the
metrics)."""
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from demo import CLASSES, read_manifest
from demo.pipeline import DemoSettings, run_demo
from tests.support.tool_runs import load_tool, run_cli

pytestmark = pytest.mark.slow

SHRINK = ['--num-train', '4', '--num-val', '3', '--image-size', '64', '--iters', '2',
          '--batch-size', '2', '--workers', '0', '--num-vis', '2']


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Two runs of the demo command, the second after the first finished."""
    tmp = tmp_path_factory.mktemp('demo_run')
    argv = ['--data-root', str(tmp / 'data'), '--work-dir-root', str(tmp / 'work_dirs'),
            '--seed', '0', *SHRINK]
    done = run_cli([sys.executable, '-m', 'demo.run_demo', *argv])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first_dir, = (tmp / 'work_dirs').iterdir()
    first = json.loads((first_dir / 'metrics.json').read_text())
    snapshot = {p: p.stat().st_mtime_ns for p in (tmp / 'data').rglob('*')}
    outputs = {p: p.read_bytes() for p in first_dir.iterdir() if p.is_file()}
    second = run_demo(DemoSettings(
        data_root=str(tmp / 'data'), work_dir_root=str(tmp / 'work_dirs'), seed=0, num_train=4,
        num_val=3, image_size=64, iters=2, batch_size=2, workers=0, num_vis=2))
    return dict(tmp=tmp, first=first, stdout=done.stdout, second=second, snapshot=snapshot,
                outputs=outputs)


def test_first_run_writes_metrics_pictures_and_checkpoint(runs):
    metrics = runs['first']
    work_dir = Path(metrics['metrics_file']).parent
    # the summary printed at the end is that of metrics.json
    assert f'  val mIoU {metrics["mIoU"]:.2f}  (trivial predictor' in runs['stdout']
    assert f'  {"metrics":<15}{work_dir / "metrics.json"}' in runs['stdout'].splitlines()
    assert set(metrics['per_class_IoU']) == set(CLASSES)
    assert 0 <= metrics['mIoU'] <= 100 and metrics['iterations'] == 2
    trivial = metrics['trivial_predictor']
    assert trivial['class'] in CLASSES and 0 < trivial['mIoU'] < 100
    # the trivial predictor hits exactly one class; its mIoU is that class's IoU / 8
    assert sum(v > 0 for v in trivial['IoU'].values() if v is not None) == 1
    # the validation run inside training (Runner + IoUMetric) saw the same final model
    assert metrics['val_mIoU_during_training'][-1] == dict(iter=2, mIoU=metrics['mIoU'])
    # the confusion matrix counts every labelled validation pixel once
    confusion = metrics['confusion']
    val_pixels = read_manifest(runs['tmp'] / 'data')['class_pixels']['validation']
    assert confusion['classes'] == list(CLASSES)
    assert sum(map(sum, confusion['pixels'])) == sum(val_pixels[c] for c in CLASSES)
    assert [sum(row) for row in confusion['pixels']] == [val_pixels[c] for c in CLASSES]
    for name in ('training_curve.png', 'predictions.png'):
        with Image.open(work_dir / name) as png:
            assert png.format == 'PNG' and min(png.size) > 200
    assert Path(metrics['checkpoint']) == work_dir / 'iter_2.pth'


def test_rerun_keeps_dataset_and_previous_outputs(runs):
    tmp, first, second = runs['tmp'], runs['first'], runs['second']
    assert first['dataset_built'] and not second['dataset_built']
    assert {p: p.stat().st_mtime_ns for p in (tmp / 'data').rglob('*')} == runs['snapshot']
    first_dir, second_dir = (Path(m['metrics_file']).parent for m in (first, second))
    assert first_dir != second_dir and first_dir.parent == second_dir.parent
    for path, content in runs['outputs'].items():
        assert path.read_bytes() == content
    # the metrics the run returns are those it wrote
    assert json.loads((second_dir / 'metrics.json').read_text()) == second


def test_checkpoint_works_in_tools_test(runs, tmp_path):
    """tools/test.py takes the run's dumped config and checkpoint as they are."""
    metrics = runs['first']
    work_dir = Path(metrics['metrics_file']).parent
    test_tool = load_tool('test')
    scores = test_tool.test(test_tool.parse_args([
        str(work_dir / 'upernet_sola_demo.py'), metrics['checkpoint'], '--work-dir',
        str(tmp_path)]))
    assert scores['mIoU'] == pytest.approx(metrics['mIoU'], abs=0.01)
