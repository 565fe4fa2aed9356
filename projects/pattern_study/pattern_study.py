"""Accuracy against layer pattern: train a config once per pattern and seed, all else equal.

Run from the repository root::

    # the CPU default: the config's own pattern_study (5 patterns x 3 seeds); make pattern-study
    python -m projects.pattern_study.make_far_cue_dataset
    python -m projects.pattern_study.pattern_study configs/demo/fpn_sola_far_cue_demo.py

    # explicit patterns
    python -m projects.pattern_study.pattern_study configs/demo/fpn_sola_far_cue_demo.py \\
        --patterns L/LL/LLLL/LL L/LL/LLLS/LS --seeds 2 --work-dir work_dirs/two_patterns

    # the rule of tools/analysis/pattern_sweep.py: k softmax blocks evenly spaced in one stage
    python -m projects.pattern_study.pattern_study configs/upernet_sola_t_ade20k.py \\
        --softmax-blocks 0 1 2 4 --stage 3 --launcher pytorch

Without ``--patterns`` and ``--softmax-blocks``, the config's own ``pattern_study =
dict(patterns=[...], seeds=N)`` is run. Every run changes only ``model.backbone.layer_pattern``
and the seed (recipe, schedule and, per seed, the data order stay) and is evaluated on the
config's test split with its own evaluator. Writes ``study.csv`` (per pattern: softmax
blocks per stage, params, FLOPs and latency at the config's test size, the metric's mean,
spread, min and max over the seeds, the Pareto fronts) and ``study.png`` (the metric against
FLOPs and against latency) into ``--work-dir``, with every run's own work dir under
``runs/``. Started again, a study reuses the finished runs and resumes a half-finished one
from its checkpoint (study.py beside this file). Exit status 0, or 2 with one
``pattern_study.py: error:`` line.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, Sequence

from mmengine.config import DictAction

from mmsola.analysis.output import markdown_table
from mmsola.analysis.patterns import add_pattern_args
from mmsola.cli import run_tool
from mmsola.launcher import add_launcher_args, export_local_rank, setup_launcher
from projects.pattern_study.study import plan_study, run_study

SUMMARY_COLUMNS = [
    ('layer pattern', lambda r: r['layer_pattern']),
    ('softmax per stage', lambda r: r['softmax_per_stage']),
    ('params (M)', lambda r: f"{r['params_M']:.3f}"),
    ('FLOPs (G)', lambda r: f"{r['flops_G']:.4f}"),
    ('latency (ms)', lambda r: f"{r['latency_ms']:.1f}"),
    ('mean', lambda r: f"{r['metric_mean']:.2f}"),
    ('std', lambda r: r['metric_std']),
    ('min..max', lambda r: f"{r['metric_min']:.2f}..{r['metric_max']:.2f}"),
    ('seeds', lambda r: r['seeds']),
]


def parse_args():
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
    args = parser.parse_args()
    export_local_rank(args)
    return args


def plot(rows: Sequence[Dict[str, object]], path: Path, title: str) -> None:
    """The metric (mean, bars: min..max over seeds) against FLOPs and against latency, one
    point per pattern, the Pareto front (higher metric at no more cost) joined in red."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), layout='constrained')
    for ax, key, label in ((axes[0], 'flops_G', 'FLOPs (G, attention counted)'),
                           (axes[1], 'latency_ms', 'latency (ms, batch 1, median)')):
        xs = [r[key] for r in rows]
        ys = [r['metric_mean'] for r in rows]
        low = [r['metric_mean'] - r['metric_min'] for r in rows]
        high = [r['metric_max'] - r['metric_mean'] for r in rows]
        ax.errorbar(xs, ys, yerr=[low, high], fmt='o', color='tab:blue', ecolor='0.6',
                    capsize=3, label='mean over seeds (bar: min..max)')
        on = sorted((x, y) for x, y, r in zip(xs, ys, rows) if r[f'pareto_{key.split("_")[0]}'])
        ax.plot([p[0] for p in on], [p[1] for p in on], '-', color='tab:red', lw=1.5,
                marker='s', mfc='none', ms=10, label='Pareto front')
        for r, x, y in zip(rows, xs, ys):
            ax.annotate(r['layer_pattern'], (x, y), fontsize=7, xytext=(4, 4),
                        textcoords='offset points')
        ax.set_xlabel(label)
        ax.set_ylabel(rows[0]['metric'])
        ax.margins(x=0.25, y=0.15)
        ax.grid(True, alpha=.3)
        ax.legend(fontsize=8, loc='lower right')
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pattern_study(args: argparse.Namespace) -> None:
    """Plan (everything checked before any training), train what is not finished, write
    study.csv and study.png, print the table."""
    # what the user can fix is a UserError (a bad pattern, config, dataset, checkpoint,
    # launcher, a study that cannot run as asked), before any training or while it trains; a
    # ValueError of the training loop keeps its traceback
    study = plan_study(args.config, args.patterns, args.seeds, args.work_dir, args.cfg_options,
                       args.softmax_blocks, args.stage, args.base_pattern)
    setup_launcher(study.cfg, args.launcher)  # fails here, before any training
    result = run_study(study, args.launcher, args.metric, args.max_runs, args.latency_repeats)
    if result is None:  # not rank 0
        return
    png = study.work_dir / 'study.png'
    plot(result['rows'], png, result['title'])
    columns = list(SUMMARY_COLUMNS)
    columns[5] = (f"{result['rows'][0]['metric']} mean", columns[5][1])
    print('\n' + markdown_table(result['rows'], columns))
    print(f"\nwrote {result['csv']} and {png}; {result['pending']} run(s) pending")


def main() -> int:
    args = parse_args()
    return run_tool('pattern_study.py', lambda: pattern_study(args))


if __name__ == '__main__':
    sys.exit(main())
