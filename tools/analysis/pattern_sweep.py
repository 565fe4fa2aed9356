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
into ``--out-dir``.
"""
import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from mmsola.analysis.erf import ImageSource, area_ratio, backbone_erf, final_point, normalise
from mmsola.analysis.flops import report_backbone
from mmsola.analysis.patterns import collect_patterns
from mmsola.analysis.timing import environment_info, fixed_threads, synchronizer, time_callable
from mmsola.apis.backbone import BackboneFactory
from mmsola.apis.cli import run_tool
from mmsola.models import SoLAVision
from mmsola.utils import check_writable
from mmsola.utils.devices import default_device


def sweep_patterns(args) -> List[List[str]]:
    """The explicit ``--patterns`` followed by the rule's, without repeats."""
    base = args.base_pattern or BackboneFactory(args.arch).default_pattern
    return collect_patterns(args.patterns, base, args.softmax_blocks, args.stage)


def measure_pattern(args, pattern: List[str], images: ImageSource,
                    env: Dict[str, object]) -> Dict[str, object]:
    """One CSV row: cost and r(0.5) of one pattern."""
    text = '/'.join(pattern)
    size = (args.size, args.size)
    torch.manual_seed(args.seed)
    model = BackboneFactory(args.arch, drop_path_rate=0.).build(pattern).to(args.device)
    counted = report_backbone(model.eval(), size, num_classes=0)
    x = torch.randn(args.batch, 3, *size, device=args.device)
    with torch.no_grad():
        timing = time_callable(lambda: model(x), warmup=args.warmup, repeats=args.repeats,
                               sync=synchronizer(args.device))
    maps, used, _ = backbone_erf(model, images, [final_point(model)], args.device)
    data = normalise(maps[final_point(model)])
    return dict(
        layer_pattern=text, softmax_blocks=sum(s.count('S') for s in pattern),
        softmax_per_stage='/'.join(str(s.count('S')) for s in pattern),
        params_M=round(counted['params'] / 1e6, 6),
        flops_G=round(counted['flops'] / 1e9, 6),
        softmax_attn_G=round(counted['attention']['softmax'] / 1e9, 6),
        linear_attn_G=round(counted['attention']['linear'] / 1e9, 6),
        latency_ms=round(timing['median_s'] * 1e3, 2),
        latency_min_ms=round(timing['min_s'] * 1e3, 2),
        images_per_s=round(args.batch / timing['median_s'], 2),
        r_0_5=round(area_ratio(data, 0.5)[1], 6), r_0_2=round(area_ratio(data, 0.2)[1], 6),
        arch=args.arch, input_size=args.size, batch=args.batch, warmup=args.warmup,
        repeats=timing['repeats'], erf_size=args.erf_size, erf_images=images.description,
        erf_num_images=used, seed=args.seed, **env)


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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='tiny', choices=sorted(SoLAVision.arch_zoo))
    parser.add_argument('--patterns', nargs='+', default=None,
                        help="layer patterns, stages separated by '/'")
    parser.add_argument('--softmax-blocks', type=int, nargs='+', default=None, metavar='K',
                        help='the rule: K softmax blocks evenly spaced in --stage, per K')
    parser.add_argument('--stage', type=int, default=3, help='stage of the rule (1-based)')
    parser.add_argument('--base-pattern', default=None,
                        help="the rule's other stages (default: the arch's pattern)")
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
    args = parser.parse_args(argv)
    args.erf_size = args.erf_size or args.size
    return args


def run(args: argparse.Namespace) -> None:
    check_writable(args.out_dir, '--out-dir')
    patterns = sweep_patterns(args)
    images = ImageSource(args.images, args.num_images, args.erf_size, args.seed)
    with fixed_threads(args.threads):
        env = environment_info(args.device)
    print(f'{len(patterns)} patterns of {args.arch} at {args.size}x{args.size} on '
          f"{env['device']}; ERF on {images.description} at {args.erf_size}x{args.erf_size}")
    rows, start = [], time.perf_counter()
    with fixed_threads(args.threads):
        for i, pattern in enumerate(patterns, 1):
            rows.append(measure_pattern(args, pattern, images, env))
            spent = time.perf_counter() - start
            r = rows[-1]
            print(f"[{i}/{len(patterns)}] {r['layer_pattern']}: {r['params_M']:.2f} M, "
                  f"{r['flops_G']:.2f} G, {r['latency_ms']} ms, r(0.5)={r['r_0_5']:.4f}  "
                  f'(elapsed {spent:.0f} s, ETA {spent / i * (len(patterns) - i):.0f} s)')
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / 'pattern_sweep.csv'
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out_dir / 'pattern_sweep.png')
    print('\n| layer pattern | S blocks | params (M) | FLOPs (G) | softmax attn (G) '
          '| latency (ms) | r(0.5) |\n|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['layer_pattern']} | {r['softmax_blocks']} | {r['params_M']:.2f} "
              f"| {r['flops_G']:.2f} | {r['softmax_attn_G']:.3f} | {r['latency_ms']:.1f} "
              f"| {r['r_0_5']:.4f} |")
    print(f"\nwrote {csv_path} and {out_dir / 'pattern_sweep.png'}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return run_tool('pattern_sweep.py', lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
