#!/usr/bin/env python
"""Effective receptive field of SoLA-Vision backbones (the RepLKNet recipe), CSV + PNG.

    # the default hybrid of SoLA-T next to its all-linear and all-softmax patterns,
    # r(t) after every block of stages 3 and 4, on 50 images of a folder at 1024x1024
    python tools/analysis/erf.py --arch tiny --compare --per-depth --images data/imagenet/val_flat

    # a trained model: its config and checkpoint, the demo images
    python tools/analysis/erf.py --config configs/upernet_sola_t_ade20k.py \
        --checkpoint work_dirs/upernet_sola_t_ade20k/iter_160000.pth --images demo

Recipe (:mod:`mmsola.analysis.erf`): the gradient of sum_c ReLU(centre of the map) with respect to
the input, its positive part summed over RGB, averaged over images; ``log10(1 + A)`` scaled to
max 1; r(t) = area of the smallest centred square holding a share t of it, as a share of the
image. The maps are the raw block outputs (the last-stage map is the output of the last
block of stage 4). Images: ``--images DIR``, ``--images demo`` (the CPU demo's dataset at
data/sola_demo, built by ``python -m demo.make_dataset``) or, when nothing is given, random
noise; the CSV says which.
Models run in eval mode at random init (seeded, ``--seed``) or from ``--checkpoint``.

Writes ``erf.csv`` (one row per model and map: stage, block, depth, r(t), square side),
``erf.png`` (heat maps; with ``--per-depth`` also r(t) against depth) and ``erf_maps.npz``
(the mean contribution A of each model's last-stage map) into ``--out-dir``.
Stages and blocks in the CSV and plot are 1-based, as in the paper. The models and the
measuring live in :mod:`mmsola.analysis.erf`. Exit status 0, or 2 with one ``erf.py: error:``
line.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, Sequence

import numpy as np
import torch

from mmsola.analysis.erf import (
    THRESHOLDS,
    ImageSource,
    backbone_erf,
    depth_points,
    final_point,
    load_weights,
    model_list,
    normalise,
    read_weights,
    result_rows,
)
from mmsola.analysis.output import write_csv
from mmsola.cli import run_tool
from mmsola.models import SoLAVision
from mmsola.utils import check_writable
from mmsola.utils.backbone import BackboneFactory
from mmsola.utils.devices import default_device


def plot(final_maps: Dict[str, torch.Tensor], rows: Sequence[Dict[str, object]],
         per_depth: bool, thresholds: Sequence[float], path: Path, title: str = '') -> None:
    """Heat maps of the last-stage ERFs; with ``per_depth`` also r(t) against depth (one
    panel per t, squares mark the 'S' / 'H' blocks)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = max(len(final_maps), len(thresholds) if per_depth else 0)
    nrows = 2 if per_depth else 1
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.6 * nrows), squeeze=False)
    last = {r['model']: r for r in rows if (r['stage'], r['block']) == r['final']}
    for ax, (label, contribution) in zip(axes[0], final_maps.items()):
        im = ax.imshow(normalise(contribution).numpy(), cmap='RdYlGn', vmin=0, vmax=1)
        r = last[label]
        ax.set_title(f"{label}\nr(0.2)={r['r_0.2']:.3f}  r(0.5)={r['r_0.5']:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in axes[0][len(final_maps):]:
        ax.axis('off')
    if per_depth:
        for ax, t in zip(axes[1], thresholds):
            for label in final_maps:
                pts = sorted((r['depth'], r[f'r_{t:g}'], r['kind']) for r in rows
                             if r['model'] == label)
                line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='.',
                                label=label)
                soft = [p for p in pts if p[2] != 'L']
                ax.scatter([p[0] for p in soft], [p[1] for p in soft], s=40, marker='s',
                           facecolors='none', edgecolors=line.get_color())
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_xlabel('blocks from the input (stages 3, 4)')
            ax.set_ylabel(f'r({t:g})')
            ax.grid(True, alpha=.3)
        axes[1][0].legend(fontsize=8)
        for ax in axes[1][len(thresholds):]:
            ax.axis('off')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args():
    parser = argparse.ArgumentParser(prog='erf.py', description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='tiny', choices=sorted(SoLAVision.arch_zoo))
    parser.add_argument('--config', default=None,
                        help='take the backbone from this config (any toolkit) instead of --arch')
    parser.add_argument('--layer-pattern', nargs='+', default=None,
                        help="one model per pattern, stages separated by '/'")
    parser.add_argument('--compare', action='store_true',
                        help='the hybrid pattern (the default, or the one --layer-pattern) '
                        'next to its all-linear and all-softmax (every block S) siblings')
    parser.add_argument('--checkpoint', nargs='+', default=None,
                        help="one checkpoint for every model, or one per model ('none': "
                        'random init); default: random init')
    parser.add_argument('--images', default=None,
                        help="a folder of images, 'demo' for the demo dataset's validation "
                        'images; default: random noise')
    parser.add_argument('--num-images', type=int, default=50)
    parser.add_argument('--size', type=int, default=1024, help='square input side')
    parser.add_argument('--per-depth', action='store_true',
                        help='r(t) after every block of stages 3 and 4')
    parser.add_argument('--thresholds', type=float, nargs='+', default=list(THRESHOLDS))
    parser.add_argument('--seed', type=int, default=0, help='random init and noise seed')
    parser.add_argument('--device', default=default_device())
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--out-dir', default='work_dirs/erf')
    args = parser.parse_args()
    if args.compare and len(args.layer_pattern or []) > 1:
        parser.error('--compare takes at most one --layer-pattern (the hybrid to compare)')
    if 0.5 not in args.thresholds:
        args.thresholds.append(0.5)  # the plot titles and the sweep use r(0.5)
    if 0.2 not in args.thresholds:
        args.thresholds.insert(0, 0.2)
    return args


def erf(args: argparse.Namespace) -> None:
    """Measure, write the CSV, PNG and maps, print the table. Everything is checked (and the
    checkpoints read) before anything is written."""
    if args.threads:
        torch.set_num_threads(args.threads)
    check_writable(args.out_dir, '--out-dir')
    images = ImageSource(args.images, args.num_images, args.size, args.seed)
    factory = BackboneFactory(args.arch, args.config, drop_path_rate=0.)
    models = model_list(args.layer_pattern, args.compare, args.checkpoint,
                        factory.default_pattern)
    weights = read_weights([checkpoint for _, _, checkpoint in models])
    print(f'ERF on {images.description}, {args.size}x{args.size}, device {args.device}')
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, final_maps = [], {}
    for label, pattern, checkpoint in models:
        torch.manual_seed(args.seed)
        backbone = factory.build(pattern)
        if checkpoint:
            load_weights(backbone, weights[checkpoint], checkpoint)
        final = final_point(backbone)
        points = depth_points(backbone) if args.per_depth else [final]
        print(f"{label}: {'/'.join(backbone.layer_pattern)}, "
              f"{checkpoint or f'random init (seed {args.seed})'}, {len(points)} map(s)")
        maps, used, skipped = backbone_erf(backbone, images, points, args.device,
                                           progress=True)
        print()
        meta = dict(weights=checkpoint or f'random init (seed {args.seed})',
                    images=images.description, num_images=used, skipped_nan=skipped,
                    input_size=args.size, final=(final[0] + 1, final[1] + 1))
        rows += result_rows(label, backbone, maps, meta, args.thresholds)
        final_maps[label] = maps[final]
    csv_path = out_dir / 'erf.csv'
    write_csv([{k: v for k, v in r.items() if k != 'final'} for r in rows], csv_path)
    plot(final_maps, rows, args.per_depth, args.thresholds, out_dir / 'erf.png',
         title=f'ERF of the last-stage map (r-vs-depth: square marks = S/H blocks); '
         f'{images.description}, {args.size}x{args.size}')
    np.savez_compressed(out_dir / 'erf_maps.npz',
                        **{k: v.float().numpy() for k, v in final_maps.items()})
    print(f'\nimages: {images.description}')
    print('| model | layer pattern | map | ' + ' | '.join(f'r({t:g})' for t in args.thresholds)
          + ' |')
    print('|---|---|---|' + '---|' * len(args.thresholds))
    for r in rows:
        if args.per_depth or (r['stage'], r['block']) == r['final']:
            print(f"| {r['model']} | {r['layer_pattern']} | stage {r['stage']} block "
                  f"{r['block']} ({r['kind']}) | "
                  + ' | '.join(f"{r[f'r_{t:g}']:.4f}" for t in args.thresholds) + ' |')
    print(f'\nwrote {csv_path}, {out_dir / "erf.png"}, {out_dir / "erf_maps.npz"}')


def main() -> int:
    args = parse_args()
    return run_tool('erf.py', lambda: erf(args))


if __name__ == '__main__':
    sys.exit(main())

