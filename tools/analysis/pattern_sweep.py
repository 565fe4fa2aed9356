#!/usr/bin/env python
"""Cost of where the softmax blocks go: params, FLOPs, latency and ERF r(0.5) per layer pattern.

    # explicit patterns (stages separated by '/')
    python tools/analysis/pattern_sweep.py --arch tiny \
        --patterns LL/LLLL/LLLLLLLL/LLLL LL/LLLL/LLLSLLLS/LLLS LL/LLLL/SSSSSSSS/SSSS

    # the rule "k softmax blocks in stage 3 at evenly spaced positions", k = 0, 1, 2, 4, 8
    python tools/analysis/pattern_sweep.py --arch tiny --softmax-blocks 0 1 2 4 8 --stage 3

For every pattern, on the backbone alone (batch 1 unless ``--batch``), at ``--size``:

* params and FLOPs with the attention products counted (``mmsola.analysis.flops``, checked
  against the hand count);
* latency: eval-mode forward under ``torch.no_grad``, ``--warmup`` untimed calls then the
  median of ``--repeats`` (``mmsola.analysis.timing``), with ``--threads`` CPU threads;
* r(0.5), the ERF area ratio of the last-stage map (``mmsola.analysis.erf``) at random init
  (seeded alike for every pattern) on ``--num-images`` images (``--images``: a folder,
  ``demo``, or noise by default) at ``--erf-size``.

The rule keeps the other stages as in the arch's default pattern (or ``--base-pattern``) and
puts the k 'S' blocks of ``--stage`` (1-based, as in the paper) at the end of k equal runs
of blocks: tiny's stage 3 with k = 2 gives LLLSLLLS, small's with k = 3 gives (LLLLLLS)x3.

Writes ``pattern_sweep.csv`` (one row per pattern, with the device, versions and settings)
and ``pattern_sweep.png`` (r(0.5) against FLOPs and against latency: no accuracy, only cost)
into ``--out-dir``. The measuring lives in :mod:`mmsola.analysis.pattern_sweep`. Exit status
0, or 2 with one ``pattern_sweep.py: error:`` line.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, Sequence

from mmsola.analysis.erf import ImageSource
from mmsola.analysis.output import markdown_table, write_csv
from mmsola.analysis.pattern_sweep import SweepSettings, sweep, sweep_patterns
from mmsola.analysis.patterns import add_pattern_args
from mmsola.analysis.timing import environment_info, fixed_threads
from mmsola.cli import run_tool
from mmsola.models import SoLAVision
from mmsola.utils import check_writable
from mmsola.utils.devices import default_device

SUMMARY_COLUMNS = [
    ('layer pattern', lambda r: r['layer_pattern']),
    ('S blocks', lambda r: r['softmax_blocks']),
    ('params (M)', lambda r: f"{r['params_M']:.2f}"),
    ('FLOPs (G)', lambda r: f"{r['flops_G']:.2f}"),
    ('softmax attn (G)', lambda r: f"{r['softmax_attn_G']:.3f}"),
    ('latency (ms)', lambda r: f"{r['latency_ms']:.1f}"),
    ('r(0.5)', lambda r: f"{r['r_0_5']:.4f}"),
]


def parse_args():
    parser = argparse.ArgumentParser(prog='pattern_sweep.py',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='tiny', choices=sorted(SoLAVision.arch_zoo))
    add_pattern_args(parser, "the arch's pattern")
    parser.add_argument('--size', type=int, default=512, help='square input for FLOPs, latency')
    parser.add_argument('--batch', type=int, default=1, help='batch for the latency')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default=default_device())
    parser.add_argument('--images', default=None,
                        help="ERF images: a folder, 'demo', or (default) random noise")
    parser.add_argument('--num-images', type=int, default=10, help='ERF images')
    parser.add_argument('--erf-size', type=int, default=None,
                        help='square input of the ERF (default: --size)')
    parser.add_argument('--seed', type=int, default=0, help='init and noise seed')
    parser.add_argument('--out-dir', default='work_dirs/pattern_sweep')
    args = parser.parse_args()
    args.erf_size = args.erf_size or args.size
    return args


def plot(rows: Sequence[Dict[str, object]], path: Path) -> None:
    """r(0.5) against FLOPs and against latency, one labelled point per pattern."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), layout='constrained')
    for ax, key, label in ((axes[0], 'flops_G', 'FLOPs (G, attention counted)'),
                           (axes[1], 'latency_ms', 'latency (ms, median)')):
        sc = ax.scatter([r[key] for r in rows], [r['r_0_5'] for r in rows],
                        c=[r['softmax_blocks'] for r in rows], cmap='viridis', s=40)
        for r in rows:
            ax.annotate(r['layer_pattern'], (r[key], r['r_0_5']), fontsize=6,
                        xytext=(3, 3), textcoords='offset points')
        ax.set_xlabel(label)
        ax.margins(x=0.25, y=0.1)  # room for the labels
        ax.grid(True, alpha=.3)
    axes[0].set_ylabel('ERF r(0.5) of the last-stage map (random init)')
    fig.colorbar(sc, ax=axes, label="number of 'S' blocks")
    r0 = rows[0]
    fig.suptitle(f"{r0['arch']} at {r0['input_size']}x{r0['input_size']}, batch {r0['batch']},"
                 f" {r0['device']} ({r0['torch_threads']} threads); ERF at "
                 f"{r0['erf_size']}x{r0['erf_size']} on {r0['erf_images']}", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pattern_sweep(args: argparse.Namespace) -> None:
    """Measure every pattern, write the CSV and the plot, print the table."""
    check_writable(args.out_dir, '--out-dir')
    patterns = sweep_patterns(args.arch, args.patterns, args.softmax_blocks, args.stage,
                              args.base_pattern)
    images = ImageSource(args.images, args.num_images, args.erf_size, args.seed)
    with fixed_threads(args.threads):
        env = environment_info(args.device)
    print(f'{len(patterns)} patterns of {args.arch} at {args.size}x{args.size} on '
          f"{env['device']}; ERF on {images.description} at {args.erf_size}x{args.erf_size}")
    with fixed_threads(args.threads):
        rows = sweep(patterns, images, env, SweepSettings(
            arch=args.arch, size=args.size, batch=args.batch, warmup=args.warmup,
            repeats=args.repeats, device=args.device, seed=args.seed))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / 'pattern_sweep.csv'
    write_csv(rows, csv_path)
    plot(rows, out_dir / 'pattern_sweep.png')
    print('\n' + markdown_table(rows, SUMMARY_COLUMNS))
    print(f"\nwrote {csv_path} and {out_dir / 'pattern_sweep.png'}")


def main() -> int:
    args = parse_args()
    return run_tool('pattern_sweep.py', lambda: pattern_sweep(args))


if __name__ == '__main__':
    sys.exit(main())
