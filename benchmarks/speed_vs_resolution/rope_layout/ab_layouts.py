"""SoLA-T batch-1 CPU inference with rope_layout='mlla' against 'per_head', in one process.

'per_head' runs exactly the computation of mmsola before the layout change (the same op path
and RoPE table shapes), so on a shared machine this A/B is the load-robust complement of
``record.sh``'s before/after runs: the two models (same weights) are called alternately,
``--rounds`` times each per resolution, and the minimum and median wall and CPU times are
compared (load moves both alike)::

    python benchmarks/speed_vs_resolution/rope_layout/ab_layouts.py --rounds 5 \\
        --out benchmarks/speed_vs_resolution/rope_layout/ab_layouts.csv
"""
import argparse
import csv
import statistics
import time

import torch

from mmsola.analysis.timing import environment_info
from mmsola.models import SoLAVision

LAYOUTS = ('mlla', 'per_head')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='tiny')
    parser.add_argument('--resolutions', type=int, nargs='+', default=[224, 1024])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', help='CSV to write')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {layout: SoLAVision(args.arch, rope_layout=layout, attn_backend='torch').eval()
              for layout in LAYOUTS}
    with torch.no_grad():  # the same weights (a load would refuse the other layout: right)
        for a, b in zip(models['mlla'].parameters(), models['per_head'].parameters()):
            b.copy_(a)
    rows = []
    for res in args.resolutions:
        x = torch.randn(1, 3, res, res)
        times = {layout: [] for layout in LAYOUTS}
        with torch.inference_mode():
            for model in models.values():  # warm-up (and the RoPE tables)
                model(x)
            for i in range(args.rounds):
                order = LAYOUTS if i % 2 == 0 else LAYOUTS[::-1]
                for layout in order:
                    wall, cpu = time.perf_counter(), time.process_time()
                    models[layout](x)
                    times[layout].append((time.perf_counter() - wall,
                                          time.process_time() - cpu))
                print(f'{res}: round {i + 1}/{args.rounds} done', flush=True)
        row = dict(resolution=res, rounds=args.rounds, threads=args.threads)
        for layout in LAYOUTS:
            for k, name in ((0, 'wall'), (1, 'cpu')):
                values = [t[k] * 1e3 for t in times[layout]]
                row[f'{layout}_{name}_min_ms'] = round(min(values), 1)
                row[f'{layout}_{name}_median_ms'] = round(statistics.median(values), 1)
        for stat in ('wall_min', 'wall_median', 'cpu_min', 'cpu_median'):
            row[f'mlla_vs_per_head_{stat}'] = round(
                row[f'mlla_{stat}_ms'] / row[f'per_head_{stat}_ms'], 4)
        rows.append(row)
        print(', '.join(f'{k}={v}' for k, v in row.items()), flush=True)
    if args.out:
        env = environment_info('cpu')
        with open(args.out, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) + list(env))
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, **env})
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
