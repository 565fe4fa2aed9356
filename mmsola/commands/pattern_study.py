"""Accuracy against layer pattern: train a config once per pattern and seed, all else equal.

    # the CPU default: the config's own pattern_study (5 patterns x 3 seeds); make pattern-study
    python tools/demo/make_far_cue_dataset.py
    python tools/analysis/pattern_study.py configs/demo/fpn_sola_far_cue_demo.py

    # explicit patterns
    python tools/analysis/pattern_study.py configs/demo/fpn_sola_far_cue_demo.py \
        --patterns L/LL/LLLL/LL L/LL/LLLS/LS --seeds 2 --work-dir work_dirs/two_patterns

    # the rule of pattern_sweep.py: k softmax blocks evenly spaced in one stage
    python tools/analysis/pattern_study.py configs/upernet_sola_t_ade20k.py \
        --softmax-blocks 0 1 2 4 --stage 3 --launcher pytorch

Without ``--patterns`` and ``--softmax-blocks``, the config's own ``pattern_study =
dict(patterns=[...], seeds=N)`` is run. Every run changes only ``model.backbone.layer_pattern``
and the seed (recipe, schedule and, per seed, the data order stay) and is evaluated on the
config's test split with its own evaluator. Writes ``study.csv`` (per pattern: softmax
blocks per stage, params, FLOPs and latency at the config's test size, the metric's mean,
spread, min and max over the seeds, the Pareto fronts) and ``study.png`` (the metric against
FLOPs and against latency) into ``--work-dir``, with every run's own work dir under
``runs/``. Started again, a study reuses the finished runs and resumes a half-finished one
from its checkpoint. The study itself lives in :mod:`mmsola.analysis.pattern_study`.
"""
import argparse
import os
from typing import Dict, List, Optional, Sequence

from mmengine.config import DictAction

from mmsola.analysis.pattern_study import (
    Study,
    StudyError,
    config_pattern,
    plan_study,
    run_study,
)
from mmsola.analysis.patterns import add_pattern_args, collect_patterns
from mmsola.checks import (
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    LauncherError,
    check_datasets,
    load_config,
)
from mmsola.cli import run_tool
from mmsola.errors import UserError
from mmsola.launcher import add_launcher_args, export_local_rank, setup_launcher

# what the user can fix: before training, a bad pattern is a ValueError as well
SETUP_ERRORS = (StudyError, ConfigError, DatasetNotFoundError, LauncherError, ValueError)
# while training, only these: a ValueError of the training loop keeps its traceback
RUN_ERRORS = (StudyError, CheckpointError)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """``tools/analysis/pattern_study.py``'s arguments (``sys.argv[1:]`` when ``argv`` is
    None)."""
    parser = argparse.ArgumentParser(prog='pattern_study.py',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='an mmsola config with a SoLAVision backbone')
    add_pattern_args(parser, "the config's pattern")
    parser.add_argument('--seeds', type=int, default=None,
                        help="runs per pattern, seeds 0..N-1 (default: the config's, else 1)")
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/pattern_study_<config name>')
    parser.add_argument('--metric', default=None,
                        help="the metric compared (default: the config's save_best metric)")
    parser.add_argument('--max-runs', type=int, default=None,
                        help='train at most this many runs now; a later call does the rest')
    parser.add_argument('--latency-repeats', type=int, default=5)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='overrides for every run, e.g. train_cfg.max_iters=100')
    add_launcher_args(parser, 'tools/dist_train.sh')
    args = parser.parse_args(argv)
    export_local_rank(args)
    if args.work_dir is None:
        name = os.path.splitext(os.path.basename(args.config))[0]
        args.work_dir = os.path.join('work_dirs', f'pattern_study_{name}')
    return args


def plan(args: argparse.Namespace) -> Study:
    """The study the command line asks for (the config's own ``pattern_study`` without
    ``--patterns`` and ``--softmax-blocks``), its datasets and launcher checked before any
    training. Raises one of :data:`SETUP_ERRORS`."""
    cfg = load_config(args.config, args.cfg_options)
    base = args.base_pattern or config_pattern(cfg)
    default = cfg.get('pattern_study') or {}
    explicit = args.patterns
    if explicit is None and not args.softmax_blocks:
        explicit = default.get('patterns')
    patterns = collect_patterns(explicit, base, args.softmax_blocks, args.stage)
    seeds = args.seeds if args.seeds is not None else default.get('seeds', 1)
    study = plan_study(args.config, patterns, seeds, args.work_dir, args.cfg_options)
    check_datasets(study.cfg, ('train', 'test'))
    setup_launcher(study.cfg, args.launcher)  # fails here, before any training
    return study


def summary_table(rows: Sequence[Dict[str, object]]) -> str:
    """The markdown table printed at the end, one line per pattern (``study.csv``'s rows)."""
    lines = [f"| layer pattern | softmax per stage | params (M) | FLOPs (G) | latency (ms) "
             f"| {rows[0]['metric']} mean | std | min..max | seeds |",
             '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['layer_pattern']} | {r['softmax_per_stage']} | {r['params_M']:.3f} "
                     f"| {r['flops_G']:.4f} | {r['latency_ms']:.1f} | {r['metric_mean']:.2f} "
                     f"| {r['metric_std']} | {r['metric_min']:.2f}..{r['metric_max']:.2f} "
                     f"| {r['seeds']} |")
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> Optional[dict]:
    """Plan, train what is not finished, write ``study.csv`` and ``study.png`` and print the
    table; returns :func:`~mmsola.analysis.pattern_study.run_study`'s result (None on a rank
    other than 0). A setup error is raised as a :class:`UserError`, a training one as one of
    :data:`RUN_ERRORS`."""
    try:
        study = plan(args)
    except SETUP_ERRORS as err:
        raise UserError(str(err)) from err
    result = run_study(study, args.launcher, args.metric, args.max_runs, args.latency_repeats)
    if result is None:  # not rank 0
        return None
    print('\n' + summary_table(result['rows']))
    print(f"\nwrote {result['csv']} and {result['png']}; {result['pending']} run(s) pending")
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/pattern_study.py``: exit status 0, or 2 with one ``pattern_study.py:
    error:`` line."""
    args = parse_args(argv)
    return run_tool('pattern_study.py', lambda: run(args), (UserError, ) + RUN_ERRORS)
