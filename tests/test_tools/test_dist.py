"""Two processes on CPU through tools/dist_train.sh and tools/dist_test.sh (torchrun, gloo):
both ranks train on their own samples, one checkpoint is written, and the two-process test
gives the metrics and predictions of a one-process test. Every file has one writer (rank 0),
recorded per process by tests/support/write_probe.py, which does not depend on the two writes
happening to overlap (the race it replaces failed one run in three). torchrun binds its own
free port (no port is picked beforehand). The Slurm scripts hand srun the documented job
layout."""
import importlib.util
import json
import pickle
import stat
import sys
from pathlib import Path

import pytest
import torch

from tests.support import tool_runs
from tests.support.fake_data import write_imagenet
from tests.support.paths import REPO_ROOT
from tests.support.write_probe import written

pytestmark = pytest.mark.usefixtures('one_torch_thread')

CONFIG = 'configs/sola_t_in1k.py'
SCRIPTS = ['dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh', 'train.py',
           'test.py']


def _probe_config(tmp_path: Path) -> Path:
    """sola_t_in1k plus RankProbeHook, which records what each rank trained on, and the
    write probe (active where MMSOLA_WRITE_PROBE is set)."""
    path = tmp_path / 'sola_t_in1k_probe.py'
    path.write_text(
        f"_base_ = ['{REPO_ROOT / CONFIG}']\n"
        "custom_imports = dict(imports=['mmsola', 'tests.support.tool_runs', "
        "'tests.support.write_probe'], "
        'allow_failed_imports=False)\n'
        # the config's own hooks (EMA, MESA, ...) stay: the two processes run the real recipe
        "custom_hooks = [*_base_.custom_hooks, "
        f"dict(type='RankProbeHook', out_dir='{tmp_path / 'probe'}')]\n")
    return path


def test_scripts_are_executable():
    for name in SCRIPTS:
        assert (REPO_ROOT / 'tools' / name).stat().st_mode & stat.S_IXUSR, name


def _probe_env(tmp_path: Path, name: str) -> dict:
    return dict(MMSOLA_WRITE_PROBE=str(tmp_path / name), MMSOLA_WRITE_PROBE_ROOT=str(tmp_path))


def _one_writer_each(writes: dict) -> None:
    """No file is written by both ranks; rank 1 writes nothing but its own probe records."""
    assert sorted(writes) in ([0], [0, 1])
    others = [w for w in writes.get(1, []) if '/probe/rank1_' not in w]
    assert others == [], others


def test_two_cpu_processes_train_and_test_like_one(tmp_path):
    data_root = write_imagenet(tmp_path / 'imagenet', num_classes=3, per_class=2,
                               val_per_class=1)
    config, work_dir = _probe_config(tmp_path), tmp_path / 'work'
    # 4 training images, 2 per rank: one iteration of batch 2 on each rank
    options = tool_runs.tiny_options(config, data_root, work_dir, iters=2,
                                     extra=['default_hooks.checkpoint.save_best=None'])
    run = tool_runs.run_cli(['tools/dist_train.sh', str(config), '2', '--cfg-options',
                             *options], env=_probe_env(tmp_path, 'writes_train'))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    train_writes = written(tmp_path / 'writes_train')
    _one_writer_each(train_writes)
    assert str(work_dir / 'epoch_1.pth') in train_writes[0]

    # Both ranks stepped, on disjoint halves of the training set.
    probes = {p.name: p.read_text() for p in (tmp_path / 'probe').iterdir()}
    assert sorted(probes) == ['rank0_iter0.json', 'rank1_iter0.json']
    samples = [set(json.loads(probes[f'rank{r}_iter0.json'])['samples']) for r in (0, 1)]
    assert len(samples[0]) == len(samples[1]) == 2 and samples[0].isdisjoint(samples[1])
    # One checkpoint, written once (by rank 0), of the one iteration of the run
    assert sorted(p.name for p in work_dir.iterdir() if p.is_file()) == [
        'epoch_1.pth', 'last_checkpoint', config.name]
    ckpt = work_dir / 'epoch_1.pth'
    assert torch.load(ckpt, mmap=True, weights_only=True)['meta']['iter'] == 1
    log = next(work_dir.rglob('*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log

    # The same checkpoint tested by two processes and by one
    out2, out1 = tmp_path / 'two.pkl', tmp_path / 'one.pkl'
    options = tool_runs.tiny_options(config, data_root, tmp_path / 'test2')
    run = tool_runs.run_cli(['tools/dist_test.sh', str(config), str(ckpt), '2', '--out',
                             str(out2), '--cfg-options', *options],
                            env=_probe_env(tmp_path, 'writes_test'))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    test_writes = written(tmp_path / 'writes_test')
    _one_writer_each(test_writes)
    metrics_file, = (tmp_path / 'test2').rglob('*/*.json')
    assert test_writes[0].count(str(metrics_file)) == 1 and str(out2) in test_writes[0]
    two = tool_runs.last_json_metrics(tmp_path / 'test2')
    one = tool_runs.test(config, ckpt, tool_runs.tiny_options(config, data_root,
                                                              tmp_path / 'test1'),
                         '--out', str(out1))
    assert {k: two[k] for k in one} == one
    preds = [{p['img_path']: p['pred_score'] for p in pickle.loads(f.read_bytes())}
             for f in (out1, out2)]
    assert sorted(preds[0]) == sorted(preds[1]) and len(preds[0]) == 3  # 3 images, 2 ranks
    for path, score in preds[0].items():
        torch.testing.assert_close(preds[1][path], score, rtol=0, atol=1e-5)

    # mmpretrain's own tools/test.py on the same config runs the same logger hook (it cannot
    # start two processes here: mmengine 0.10 binds every process to a CUDA device)
    own_test = Path(importlib.util.find_spec('mmpretrain').origin).parent / '.mim/tools/test.py'
    run = tool_runs.run_cli([sys.executable, str(own_test), str(config), str(ckpt),
                             '--cfg-options', *tool_runs.tiny_options(config, data_root,
                                                                      tmp_path / 'test_own')])
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert 'RankZeroLoggerHook' in next((tmp_path / 'test_own').rglob('*.log')).read_text()
    own = tool_runs.last_json_metrics(tmp_path / 'test_own')
    assert {k: own[k] for k in one} == one


def test_slurm_scripts_hand_srun_the_job_layout(tmp_path):
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n')
    srun.chmod(0o755)
    env = dict(PATH=f'{srun.parent}:/usr/bin:/bin', GPUS='16', GPUS_PER_NODE='8',
               CPUS_PER_TASK='4', SRUN_ARGS='--quotatype=auto --time=1:00:00',
               SRUN_LOG=str(tmp_path / 'args'))
    cases = [(['tools/slurm_train.sh', 'gpu', 'job', 'configs/sola_t_in1k.py', 'work',
               '--amp'], ['tools/train.py', 'configs/sola_t_in1k.py', '--work-dir=work',
                          '--launcher=slurm', '--amp']),
             (['tools/slurm_test.sh', 'gpu', 'job', 'configs/sola_t_in1k.py', 'x.pth',
               '--out', 'o.pkl'], ['tools/test.py', 'configs/sola_t_in1k.py', 'x.pth',
                                   '--launcher=slurm', '--out', 'o.pkl'])]
    for argv, tool_args in cases:
        run = tool_runs.run_cli(argv, env=env)
        assert run.returncode == 0, run.stderr
        args = (tmp_path / 'args').read_text().splitlines()
        assert args[:10] == ['-p', 'gpu', '--job-name=job', '--gres=gpu:8', '--ntasks=16',
                             '--ntasks-per-node=8', '--cpus-per-task=4', '--kill-on-bad-exit=1',
                             '--quotatype=auto', '--time=1:00:00']
        python = args.index('-u') - 1
        assert args[python] == sys.executable and args[python + 2:] == tool_args
        # too few arguments: usage, exit 2
        short = tool_runs.run_cli(argv[:3], env=env)
        assert short.returncode == 2 and 'usage:' in short.stderr
