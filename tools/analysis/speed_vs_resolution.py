#!/usr/bin/env python
"""Speed and peak memory of backbones against input resolution: CSV + PNG.

For every model and every square resolution it measures

* inference at batch 1 and at a larger batch (``--infer-batches``), eval mode, no grad;
* a training step at ``--train-batch``: forward, backward of the mean of every output map,
  AdamW step (train mode);

as the median over ``--repeats`` calls after ``--warmup`` calls (wall time, and the process
CPU time of all threads, which a machine shared with other work disturbs much less), and the
peak memory of one more call above what was resident before it (CUDA
``max_memory_allocated``; CPU peak RSS, see :mod:`mmsola.analysis.timing`). The models are
measured side by side (each point for every model in turn); ``time_vs_ref`` and
``cpu_vs_ref`` divide by ``--reference`` (default Swin-T) at the same point. A point
predicted (from the smaller resolutions of the same series) to exceed ``--time-budget`` or the
free memory is skipped, and so are the larger ones; the CSV says so in its ``status`` column.
Device, versions and settings go into every row.
The measuring lives in :mod:`mmsola.analysis.resolution_scaling`.

Models: ``--arch`` (SoLAVision presets or a JSON dict, optionally ``--layer-pattern``),
``--config`` (the backbone of a config's model), and ``--compare``: SoLA-T with its default,
all-linear and all-softmax patterns, and mmpretrain's Swin-T (built from mmpretrain).

Examples::

    # the recorded CPU comparison (benchmarks/speed_vs_resolution/record.sh; README.md, Performance)
    python tools/analysis/speed_vs_resolution.py --compare --threads 2 \\
        --resolutions 224 512 1024 --out-dir benchmarks/speed_vs_resolution
    # one config's backbone on a GPU, bf16 autocast, channels-last inputs
    python tools/analysis/speed_vs_resolution.py --config configs/upernet_sola_t_ade20k.py \\
        --device cuda --amp --channels-last

Exit status 0, or 2 with one ``speed_vs_resolution.py: error:`` line.
"""
import argparse
import sys
from pathlib import Path
from typing import List

from mmsola.analysis import resolution_scaling
from mmsola.analysis.output import write_csv
from mmsola.analysis.resolution_scaling import (
    COLUMNS,
    DEFAULT_RESOLUTIONS,
    Settings,
    model_specs,
    summary_tables,
)
from mmsola.analysis.timing import fixed_threads
from mmsola.cli import run_tool
from mmsola.utils import check_writable


def plot(rows: List[dict], path: Path, reference: str = '') -> None:
    """One row of two log-log panels per (mode, batch): time per image and peak memory
    against resolution, one line per model."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    groups = sorted({(r['mode'], r['batch']) for r in rows}, key=lambda g: (g[0] != 'infer',
                                                                           g[1]))
    models = list(dict.fromkeys(r['model'] for r in rows))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.6 * len(groups)), squeeze=False)
    first = rows[0]
    for (mode, batch), (ax_t, ax_m) in zip(groups, axes):
        for name in models:
            pts = [r for r in rows if (r['model'], r['mode'], r['batch']) == (name, mode, batch)
                   and r['status'] == 'ok']
            if not pts:
                continue
            res = [r['resolution'] for r in pts]
            style = dict(marker='o', label=name, lw=2.2 if name == reference else 1.4)
            ax_t.plot(res, [r['ms_per_image'] for r in pts], **style)
            ax_m.plot(res, [max(r['peak_mem_MB'], 1e-3) for r in pts], **style)
        what = 'inference' if mode == 'infer' else 'training step (fwd+bwd+AdamW)'
        for ax, ylabel in ((ax_t, 'time per image (ms)'), (ax_m, 'peak memory (MB)')):
            ax.set_xscale('log')
            ax.set_yscale('log')
            ax.set_xlabel('input resolution (square, px)')
            ax.set_ylabel(ylabel)
            ax.set_title(f'{what}, batch {batch}', fontsize=10)
            ax.grid(True, which='both', alpha=0.3)
            ticks = sorted({r['resolution'] for r in rows})
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
            # labelled ticks at 1, 2, 5 x 10^k: a few points still get a readable scale
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1., 2., 5.)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f'{v:g}'))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax_t.legend(fontsize=8)
    fig.suptitle(f"{first['device_name']} ({first['device']}), {first['threads']} threads, "
                 f"torch {first['torch']}, AMP {first['amp']}, channels-last "
                 f"{first['channels_last']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args():
    p = argparse.ArgumentParser(prog='speed_vs_resolution.py',
                                description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group('models')
    g.add_argument('--arch', nargs='+', help='SoLAVision arch: tiny|small|base or a JSON dict')
    g.add_argument('--layer-pattern', help="pattern for --arch, e.g. 'LL/LLLL/LLLSLLLS/LLLS'")
    g.add_argument('--config', nargs='+', help="configs whose model's backbone is measured")
    g.add_argument('--compare', action='store_true',
                   help='add SoLA-T (default, all-linear, all-softmax) and mmpretrain Swin-T')
    g.add_argument('--attn-backend', default='auto', choices=('auto', 'triton', 'torch'),
                   help='linear-attention backend of the SoLAVision models')
    g = p.add_argument_group('points')
    g.add_argument('--resolutions', type=int, nargs='+', default=list(DEFAULT_RESOLUTIONS))
    g.add_argument('--modes', nargs='+', default=['infer', 'train'], choices=('infer', 'train'))
    g.add_argument('--infer-batches', type=int, nargs='+',
                   help='inference batch sizes (default: 1 and 8 on CPU, 1 and 64 on CUDA)')
    g.add_argument('--train-batch', type=int, default=8, help='training batch size')
    g = p.add_argument_group('measurement')
    g.add_argument('--device', default='cpu', help="'cpu' or 'cuda[:i]'")
    g.add_argument('--warmup', type=int, default=1, help='untimed calls per point')
    g.add_argument('--repeats', type=int, default=5, help='timed calls per point (median)')
    g.add_argument('--threads', type=int, help='torch.set_num_threads for the whole run')
    g.add_argument('--amp', action='store_true', help='autocast (see --amp-dtype)')
    g.add_argument('--amp-dtype', default='bfloat16', choices=('bfloat16', 'float16'))
    g.add_argument('--channels-last', action='store_true',
                   help='models and inputs in channels-last memory format')
    g.add_argument('--time-budget', type=float, default=120.,
                   help='seconds one point may take (warm-up + repeats + memory call); '
                   'points predicted to take longer are skipped')
    g.add_argument('--memory-fraction', type=float, default=0.8,
                   help='skip points predicted to need more than this share of free memory')
    g = p.add_argument_group('output')
    g.add_argument('--reference', help='model the time_vs_ref column divides by '
                   '(default: swin-t if measured, else the first model)')
    g.add_argument('--out-dir', default='work_dirs/speed_vs_resolution')
    g.add_argument('--name', default='speed_vs_resolution', help='file stem of CSV and PNG')
    return p.parse_args()


def speed_vs_resolution(args: argparse.Namespace) -> None:
    """Measure every point, write the CSV and the PNG, print the tables."""
    settings = Settings(  # validates the settings (the device too) before anything runs
        device=args.device, resolutions=args.resolutions, modes=args.modes,
        infer_batches=args.infer_batches, train_batch=args.train_batch, warmup=args.warmup,
        repeats=args.repeats, amp=args.amp, amp_dtype=args.amp_dtype,
        channels_last=args.channels_last, time_budget=args.time_budget,
        memory_fraction=args.memory_fraction, reference=args.reference)
    check_writable(args.out_dir, '--out-dir')
    specs = model_specs(args.arch, args.layer_pattern, args.config, args.compare,
                        args.attn_backend)
    with fixed_threads(args.threads):
        rows = resolution_scaling.run(specs, settings)
    out = Path(args.out_dir)
    csv_path, png_path = out / f'{args.name}.csv', out / f'{args.name}.png'
    write_csv(rows, csv_path, COLUMNS)
    plot(rows, png_path, args.reference or 'swin-t')
    print(summary_tables(rows))
    print(f'wrote {csv_path} and {png_path}')


def main() -> int:
    args = parse_args()
    return run_tool('speed_vs_resolution.py', lambda: speed_vs_resolution(args))


if __name__ == '__main__':
    sys.exit(main())

