"""The pattern study (projects/pattern_study: the study.py library, the pattern_study.py
command line): a tiny two-pattern study writes its CSV and PNG, picks up where it stopped
(finished runs reused, a half-finished one resumed from its checkpoint), and really trains
different patterns; bad input is refused before any training."""
import argparse
import csv
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, DictAction

from mmsola.checks import DatasetNotFoundError
from mmsola.utils import allow_mmengine_checkpoint_globals
from projects.pattern_study.far_cue import FAR_CUE_METAINFO, ensure_far_cue_dataset
from projects.pattern_study.study import StudyError, pareto_front, plan_study, run_study
from tests.support.paths import REPO_ROOT
from tests.support.tool_runs import run_cli

pytestmark = pytest.mark.slow

CONFIG = 'configs/demo/fpn_sola_far_cue_demo.py'
TOOL = [sys.executable, '-m', 'projects.pattern_study.pattern_study']
LINEAR, HYBRID = 'L/LL/LLLL/LL', 'L/LL/LLLS/LS'
COLUMNS = ['layer_pattern', 'softmax_per_stage', 'softmax_blocks', 'params_M', 'flops_G',
           'softmax_attn_G', 'latency_ms', 'latency_cpu_ms', 'test_size', 'device',
           'torch_threads', 'metric', 'metric_mean', 'metric_std', 'metric_min', 'metric_max',
           'seeds', 'seed_values', 'seed_list', 'pareto_flops', 'pareto_latency']


def shrink(data_root: Path):
    """--cfg-options: the demo config on a 32x32 dataset, 2 iterations, a checkpoint each."""
    opts = [f'train_dataloader.dataset.data_root={data_root}', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'model.data_preprocessor.size=(32,32)', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=2',
            'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'param_scheduler.1.end=2']
    for split in ('val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={data_root}',
                 f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False',
                 f'{split}_dataloader.batch_size=2',
                 f'{split}_dataloader.dataset.pipeline.1.scale=(32,32)']
    return opts


@pytest.fixture(scope='module')
def study(tmp_path_factory, one_torch_thread):
    """A two-pattern, one-seed study stopped after its first run, then started again after
    its second run lost its result and final checkpoint (as if killed after iteration 1).
    The last start is the tool as a user runs it (a fresh process), the others the library
    in-process."""
    tmp = tmp_path_factory.mktemp('pattern_study')
    data_root, _ = ensure_far_cue_dataset(tmp / 'data', num_train=4, num_val=2, image_size=32)
    work = tmp / 'study'
    argv = [str(REPO_ROOT / CONFIG), '--patterns', LINEAR, HYBRID, '--work-dir', str(work),
            '--seeds', '1', '--latency-repeats', '1', '--cfg-options', *shrink(data_root)]
    parser = argparse.ArgumentParser()  # the options parsed as the tool parses them
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg_options = parser.parse_args(['--cfg-options', *shrink(data_root)]).cfg_options

    def start(max_runs=None):
        study = plan_study(str(REPO_ROOT / CONFIG), [LINEAR, HYBRID], 1, str(work), cfg_options)
        return run_study(study, max_runs=max_runs, latency_repeats=1)

    assert start(max_runs=1)['pending'] == 1
    first_run = work / 'runs' / 'L-LL-LLLL-LL' / 'seed0'
    first_files = {p: p.stat().st_mtime_ns for p in first_run.rglob('*') if p.is_file()}
    assert start()['pending'] == 0
    second_run = work / 'runs' / 'L-LL-LLLS-LS' / 'seed0'
    (second_run / 'result.json').unlink()
    (second_run / 'iter_2.pth').unlink()
    (second_run / 'last_checkpoint').write_text(str(second_run / 'iter_1.pth'))
    done = run_cli([*TOOL, *argv],
                   env=dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"wrote {work / 'study.csv'} and {work / 'study.png'}; 0 run(s) pending" \
        in done.stdout
    assert f'| {HYBRID} | 0/0/1/1 |' in done.stdout
    return dict(work=work, first_run=first_run, first_files=first_files, second_run=second_run)


def test_study_writes_csv_columns_and_png(study):
    with open(study['work'] / 'study.csv') as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    assert [r['layer_pattern'] for r in rows] == [LINEAR, HYBRID]
    assert [r['softmax_per_stage'] for r in rows] == ['0/0/0/0', '0/0/1/1']
    assert [r['seeds'] for r in rows] == ['1', '1']
    assert {r['metric'] for r in rows} == {'mIoU'}
    assert {r['test_size'] for r in rows} == {'32x32'}  # the (shrunk) test pipeline's size
    lin, hyb = rows
    assert float(hyb['softmax_attn_G']) > 0 == float(lin['softmax_attn_G'])
    assert float(hyb['params_M']) > float(lin['params_M'])  # 'S' has its own v projection
    for r in rows:
        assert 0 <= float(r['metric_mean']) <= 100 and r['metric_std'] == ''  # one seed
        assert float(r['latency_ms']) > 0
        result = json.loads((study['work'] / 'runs' / r['layer_pattern'].replace('/', '-')
                             / 'seed0' / 'result.json').read_text())
        assert float(r['metric_mean']) == pytest.approx(result['metrics']['mIoU'], abs=1e-4)
    assert (study['work'] / 'study.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_finished_run_is_reused_and_half_finished_run_resumes(study):
    log = (study['work'] / 'study.log').read_text()
    assert 'run 1 of 2: training L/LL/LLLL/LL seed 0' in log
    assert '2 runs, 1 already finished' in log and 'run 2 of 2: training' in log
    assert 'run 2 of 2: resuming L/LL/LLLS/LS seed 0' in log
    assert log.count('run 1 of 2: training') == 1  # never trained again
    after = {p: p.stat().st_mtime_ns for p in study['first_run'].rglob('*') if p.is_file()}
    assert after == study['first_files']
    # the resumed run trained iteration 2 only: its last log holds no iteration-1 step
    logs = sorted(study['second_run'].glob('*/vis_data/scalars.json'))
    assert len(logs) == 2
    steps = [json.loads(line).get('iter') for line in logs[-1].read_text().splitlines()]
    assert 2 in steps and 1 not in steps
    assert (study['second_run'] / 'result.json').is_file()


def test_checkpoints_carry_their_patterns_and_differ(study):
    allow_mmengine_checkpoint_globals()
    states = {}
    for pattern in (LINEAR, HYBRID):
        ckpt = torch.load(study['work'] / 'runs' / pattern.replace('/', '-') / 'seed0' /
                          'iter_2.pth', map_location='cpu', weights_only=True)
        cfg = Config.fromstring(ckpt['meta']['cfg'], '.py')
        assert '/'.join(cfg.model.backbone.layer_pattern) == pattern
        states[pattern] = ckpt['state_dict']
    lin, hyb = states[LINEAR], states[HYBRID]
    # stage 3's last block and stage 4's second are softmax blocks: one qkv projection where
    # the linear blocks have qk (v is the input itself)
    assert sorted(set(hyb) - set(lin)) == [
        f'backbone.stages.{s}.blocks.{b}.mixer.core.qkv.{p}'
        for s, b in ((2, 3), (3, 1)) for p in ('bias', 'weight')]
    assert sorted(set(lin) - set(hyb)) == [
        f'backbone.stages.{s}.blocks.{b}.mixer.core.qk.{p}'
        for s, b in ((2, 3), (3, 1)) for p in ('bias', 'weight')]
    qkv, qk = (hyb['backbone.stages.2.blocks.3.mixer.core.qkv.weight'],
               lin['backbone.stages.2.blocks.3.mixer.core.qk.weight'])
    assert (qkv.shape, qk.shape) == ((3 * 128, 128), (2 * 128, 128))


def test_pareto_front():
    """(cost, value): a point is off the front when another costs no more and scores no less."""
    assert pareto_front([(1, 10), (2, 12), (3, 11), (2, 12), (4, 20)]) == \
        [True, True, False, True, True]


def test_demo_config_matches_the_dataset():
    cfg = Config.fromfile(str(REPO_ROOT / CONFIG))
    assert tuple(cfg.metainfo['classes']) == FAR_CUE_METAINFO['classes']
    assert cfg.metainfo['palette'] == FAR_CUE_METAINFO['palette']
    assert cfg.model.decode_head.num_classes == len(FAR_CUE_METAINFO['classes'])


def test_bad_input_is_refused_before_training(tmp_path):
    """Every check of the plan raises what to change; nothing is trained or written."""
    config = str(REPO_ROOT / CONFIG)
    work = str(tmp_path / 'work')
    with pytest.raises(ValueError, match="invalid block kind 'X'"):
        plan_study(config, ['L/LL/LLXL/LS'], work_dir=work)
    with pytest.raises(ValueError, match='nothing to sweep'):  # no patterns, none in the config
        plan_study(str(REPO_ROOT / 'configs/upernet_sola_t_ade20k.py'), work_dir=work)
    with pytest.raises(StudyError, match='--seeds 0: need at least one seed'):
        plan_study(config, ['L/LL/LLLL/LL'], 0, work)
    with pytest.raises(StudyError, match="'H' block"):
        plan_study(config, ['H/LL/LLLL/LL'], work_dir=work)
    with pytest.raises(DatasetNotFoundError, match=f'{tmp_path}/none'):
        plan_study(config, ['L/LL/LLLL/LL'], work_dir=work, cfg_options={
            'train_dataloader.dataset.data_root': f'{tmp_path}/none'})
    with pytest.raises(StudyError, match='not SoLAVision'):
        plan_study(str(REPO_ROOT / 'configs/sola_t_in1k.py'), ['L/L/L/L'], work_dir=work,
                   cfg_options={'model.backbone.type': 'ResNet'})
    assert not (tmp_path / 'work').exists()


def test_tool_reports_bad_input_in_one_line(tmp_path):
    """The command line turns a refused plan into one ``pattern_study.py: error:`` line and
    exit status 2, no traceback."""
    done = run_cli([*TOOL, str(REPO_ROOT / CONFIG), '--patterns', 'L/LL/LLLL/LL', '--seeds', '0',
                    '--work-dir', str(tmp_path / 'work')])
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == \
        'pattern_study.py: error: --seeds 0: need at least one seed'
    assert 'Traceback' not in done.stderr
