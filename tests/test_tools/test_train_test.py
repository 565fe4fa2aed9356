"""Each tiny config trains through tools/train.py (iterations + a validation pass) on a tiny
dataset in its real layout, then tools/test.py evaluates the saved checkpoint, writes --out
and draws --show-dir; the test metric is the validation metric of the same weights."""
import pickle
from pathlib import Path

import pytest

import mmsola.checks.run
from tests.support import tool_runs
from tests.support.fake_data import write_ade20k, write_coco, write_imagenet

pytestmark = pytest.mark.usefixtures('one_torch_thread')

# config -> (dataset writer, metric, checkpoint the run ends with, number of test images)
CASES = {
    'configs/upernet_sola_t_ade20k.py': (write_ade20k, 'mIoU', 'iter_2.pth', 1),
    'configs/mask_rcnn_sola_t_fpn_1x_coco.py': (write_coco, 'coco/bbox_mAP', 'epoch_1.pth', 1),
    'configs/mask_rcnn_sola_t_fpn_3x_coco.py': (write_coco, 'coco/segm_mAP', 'epoch_1.pth', 1),
    'configs/sola_t_in1k.py': (write_imagenet, 'accuracy/top1', 'epoch_1.pth', 2),
}


def _check_predictions(config: str, preds: list, count: int) -> None:
    """The --out pickle holds one prediction per test image, in the toolkit's format."""
    assert len(preds) == count
    assert sorted(p['img_path'] for p in preds) == sorted({p['img_path'] for p in preds})
    for p in preds:
        if 'mask_rcnn' in config:  # mmdet's DumpDetResults: boxes, scores, labels, RLE masks
            inst = p['pred_instances']
            assert {'bboxes', 'scores', 'labels', 'masks'} <= set(inst)
            assert len(inst['bboxes']) == len(inst['masks']) == len(inst['scores'])
        elif 'upernet' in config:  # a label map at the image's size, no per-class logits
            assert 'seg_logits' not in p
            assert tuple(p['pred_sem_seg']['data'].shape[-2:]) == tuple(p['ori_shape'])
        else:
            assert p['pred_score'].shape == (1000, ) and p['pred_label'].numel() == 1


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    return dict(write_ade20k=write_ade20k(root / 'ade', num_val=1),
                write_coco=write_coco(root / 'coco', num_val=1),
                write_imagenet=write_imagenet(root / 'imagenet', num_classes=2))


# A detector after two iterations scores below mmdet's 0.05 threshold: keep its 5 best
# detections, so that there are boxes and masks to evaluate and dump.
EXTRA = {'mask_rcnn': ['model.test_cfg.rcnn.score_thr=0.0', 'model.test_cfg.rcnn.max_per_img=5']}


def _options(config, data_root, work_dir):
    extra = [o for key, opts in EXTRA.items() if key in config for o in opts]
    return tool_runs.tiny_options(config, data_root, work_dir, extra=extra)


def _count_calls(monkeypatch, module, names) -> dict:
    """Count the calls of ``module``'s functions ``names`` (as ``module`` calls them)."""
    counts = dict.fromkeys(names, 0)
    for name in names:
        def counted(*args, _name=name, _function=getattr(module, name), **kwargs):
            counts[_name] += 1
            return _function(*args, **kwargs)
        monkeypatch.setattr(module, name, counted)
    return counts


@pytest.mark.parametrize('config', list(CASES), ids=lambda c: Path(c).stem)
def test_train_then_test_each_tiny_config(config, data, tmp_path, monkeypatch):
    writer, metric, ckpt_name, count = CASES[config]
    data_root, work_dir = data[writer.__name__], tmp_path / 'work'
    with monkeypatch.context() as patch:  # a training start: each check once, in one pass
        loads = _count_calls(patch, tool_runs.load_tool('train'), ['load_config', 'check_run'])
        checks = _count_calls(patch, mmsola.checks.run, [
            'check_writable', 'check_datasets', 'check_pretrained', 'check_launcher'])
        tool_runs.train(config, _options(config, data_root, work_dir))
    assert loads == dict(load_config=1, check_run=1)
    assert checks == dict(check_writable=1, check_datasets=1, check_pretrained=1,
                          check_launcher=1)

    ckpt = work_dir / ckpt_name
    assert ckpt.is_file() and (work_dir / 'last_checkpoint').read_text().endswith(ckpt_name)
    assert list(work_dir.glob('best_*.pth'))  # the validation pass ran and scored it
    val = tool_runs.last_json_metrics(work_dir)
    assert metric in val

    out, show_dir = tmp_path / 'preds.pkl', tmp_path / 'show'
    metrics = tool_runs.test(config, ckpt, _options(config, data_root, work_dir),
                             '--out', str(out), '--show-dir', str(show_dir))
    assert metrics[metric] == pytest.approx(val[metric], abs=1e-4)
    with open(out, 'rb') as f:
        _check_predictions(config, pickle.load(f), count)
    assert len(list(show_dir.rglob('*.png')) + list(show_dir.rglob('*.jpg'))) == count
