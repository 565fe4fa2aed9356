"""The mmsola demo: train UperNet-SoLA on CPU in minutes and show what it learned.

    python tools/demo/run_demo.py            # what `make demo` runs

1. builds the synthetic ADE20K-layout dataset at --data-root unless it is already there;
2. trains configs/demo/upernet_sola_demo.py through tools/train.py in a new timestamped
   work dir under --work-dir-root (mmengine's log lines show the loss and the ETA);
3. scores the final checkpoint on the validation split with mmseg's IoUMetric, next to the
   trivial predictor (every pixel the most frequent training class);
4. writes metrics.json, training_curve.png and predictions.png into the work dir, and prints
   where they are and how to run tools/test.py and tools/infer.py on the checkpoint.

A rerun reuses the dataset and gets a work dir of its own, so earlier runs are kept.
--iters, --num-train and friends shrink the run (the tests use them).
"""
import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# Idle OpenMP threads sleep instead of spinning: on a machine shared with other work, spinning
# threads that wait for a descheduled peer made each training step up to 10x slower. Set
# before torch loads (here and, inherited, in the training process); a user's value wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from mmsola.apis.cli import USER_ERROR_STATUS, error_line  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = 'configs/demo/upernet_sola_demo.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmsola.demo import DEFAULT_ROOT
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--config', default=DEFAULT_CONFIG, help='the demo config')
    p.add_argument('--data-root', default=DEFAULT_ROOT, help='where the dataset is (built)')
    p.add_argument('--work-dir-root', default='work_dirs/demo',
                   help='each run gets a timestamped work dir in here')
    data = p.add_argument_group('dataset (used only when it is built)')
    data.add_argument('--dataset-seed', type=int, default=0)
    data.add_argument('--num-train', type=int, default=200)
    data.add_argument('--num-val', type=int, default=50)
    data.add_argument('--image-size', type=int, default=128)
    run = p.add_argument_group('training (default: the config\'s values)')
    run.add_argument('--iters', type=positive, help='training iterations')
    run.add_argument('--val-interval', type=positive, help='iterations between validations')
    run.add_argument('--batch-size', type=positive, help='training images per iteration')
    run.add_argument('--workers', type=int, help='data-loading worker processes (0: none)')
    run.add_argument('--seed', type=int,
                     help='training seed (default: a new random one, kept in metrics.json)')
    run.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                     help='more key=value overrides for the config, as tools/train.py takes')
    p.add_argument('--num-vis', type=positive, default=6,
                   help='validation images in predictions.png')
    return p.parse_args(argv)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text}')
    return value


def step(index: int, text: str) -> None:
    print(f'[demo {index}/4] {text}', flush=True)


def new_work_dir(root: Path) -> Path:
    """``root/<YYYYmmdd_HHMMSS>`` (``_2``, ``_3``... if taken), created; never an old one."""
    stamp = time.strftime('%Y%m%d_%H%M%S')
    for n in range(1, 1000):
        path = root / (stamp if n == 1 else f'{stamp}_{n}')
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f'could not make a new work dir in {root}')


def run_overrides(cfg, args: argparse.Namespace, data_root: Path) -> Dict:
    """The ``--cfg-options`` that point the config at ``data_root`` and apply the run flags.

    With ``--iters``, the demo's schedule (LinearLR warm-up, then PolyLR) is fitted to it: the
    warm-up keeps at most a tenth of the iterations, the decay ends at the last iteration, and
    the checkpoint is saved there.
    """
    opts = dict(args.cfg_options)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.data_root'] = str(data_root)
    if args.iters is not None:
        scheds = cfg.param_scheduler
        if [s['type'] for s in scheds] != ['LinearLR', 'PolyLR']:
            raise ValueError(f'--iters expects the demo schedule [LinearLR, PolyLR] in '
                             f'{args.config}, found {[s["type"] for s in scheds]}')
        warmup = max(1, min(scheds[0]['end'], args.iters // 10))
        opts.update({'train_cfg.max_iters': args.iters, 'param_scheduler.0.end': warmup,
                     'param_scheduler.1.begin': warmup, 'param_scheduler.1.end': args.iters,
                     'default_hooks.checkpoint.interval': args.iters})
        if args.val_interval is None:
            opts['train_cfg.val_interval'] = min(cfg.train_cfg.val_interval, args.iters)
    if args.val_interval is not None:
        opts['train_cfg.val_interval'] = args.val_interval
    if args.batch_size is not None:
        opts['train_dataloader.batch_size'] = args.batch_size
    if args.workers is not None:
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            opts[f'{loader}.num_workers'] = args.workers
            opts[f'{loader}.persistent_workers'] = args.workers > 0
    opts['randomness.seed'] = args.seed if args.seed is not None else random.randrange(2**31)
    return opts


def format_options(opts: Dict) -> List[str]:
    """``{'a.b': 1}`` -> ``['a.b=1']`` as DictAction reads it back (lists, tuples, bools)."""
    def text(v):
        if isinstance(v, (list, tuple)):
            inner = ','.join(text(x) for x in v)
            return f'[{inner}]' if isinstance(v, list) else f'({inner})'
        return str(v)
    return [f'{k}={text(v)}' for k, v in opts.items()]


class TrainingFailed(RuntimeError):
    """tools/train.py, run as a child process, failed (it printed why)."""


def train(config: str, work_dir: Path, opts: Dict) -> Tuple[float, float]:
    """Run tools/train.py in a child process (its log shows the progress and ETA).

    Returns the wall seconds it took and the CPU seconds it used (all its threads and data
    workers): on a busy machine the second tells what it costs.
    """
    cmd = [sys.executable, str(REPO / 'tools' / 'train.py'), config, '--work-dir',
           str(work_dir), '--cfg-options', *format_options(opts)]
    print('  $ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    start, cpu = time.time(), _children_cpu()
    done = subprocess.run(cmd)
    if done.returncode != 0:
        raise TrainingFailed(f'training failed (exit code {done.returncode}); its log is in '
                             f'{work_dir}')
    return time.time() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    started = time.time()
    from mmsola.apis import load_config
    from mmsola.demo import METAINFO, ensure_demo_dataset, read_manifest

    step(1, f'dataset at {args.data_root}')
    data_root, built = ensure_demo_dataset(args.data_root, args.dataset_seed, args.num_train,
                                           args.num_val, args.image_size)
    manifest = read_manifest(data_root)
    print(f'  {"built" if built else "reused (already built)"}: {manifest["num_train"]} train '
          f'/ {manifest["num_val"]} val images, {manifest["image_size"]}px, '
          f'seed {manifest["seed"]}', flush=True)

    cfg = load_config(args.config, args.cfg_options)
    opts = run_overrides(cfg, args, data_root.resolve())
    cfg.merge_from_dict(opts)
    if tuple(cfg.val_dataloader.dataset.metainfo['classes']) != METAINFO['classes']:
        raise ValueError(f'{args.config} does not name the demo dataset\'s classes '
                         f'{METAINFO["classes"]} in its dataset metainfo')
    work_dir = new_work_dir(Path(args.work_dir_root))
    step(2, f'training {cfg.train_cfg.max_iters} iterations of {Path(args.config).name} in '
            f'{work_dir} (a log line every {cfg.default_hooks.logger.interval} iterations, '
            'with the ETA)')
    train_seconds, train_cpu = train(args.config, work_dir, opts)

    step(3, 'scoring the final checkpoint on the validation split (mmseg IoUMetric)')
    checkpoint, scores, trivial, kept = score(cfg, work_dir, args.num_vis)
    step(4, 'pictures')
    curve, grid, val_curve = draw(cfg, work_dir, scores, trivial, kept)

    metrics = dict(
        mIoU=scores['mIoU'], aAcc=scores['aAcc'], mAcc=scores['mAcc'],
        per_class_IoU=scores['IoU'], per_class_Acc=scores['Acc'],
        confusion=dict(rows='ground truth', columns='prediction',
                       classes=list(METAINFO['classes']), pixels=scores['confusion']),
        trivial_predictor=dict(description='every pixel the most frequent training class',
                               **trivial),
        val_mIoU_during_training=[dict(iter=s, mIoU=round(v, 2)) for s, v in val_curve],
        iterations=cfg.train_cfg.max_iters, batch_size=cfg.train_dataloader.batch_size,
        seed=cfg.randomness.seed,
        train_seconds=round(train_seconds, 1), train_cpu_seconds=round(train_cpu, 1),
        total_seconds=round(time.time() - started, 1),
        checkpoint=str(checkpoint), config=args.config, cfg_options=opts,
        metrics_file=str(work_dir / 'metrics.json'), dataset_built=built,
        dataset=dict(root=str(data_root), **{k: manifest[k] for k in (
            'seed', 'num_train', 'num_val', 'image_size')}))
    Path(metrics['metrics_file']).write_text(json.dumps(metrics, indent=2) + '\n')
    dumped = work_dir / Path(args.config).name  # tools/train.py saves the merged config
    summary(metrics, dict(curve=curve, grid=grid, data_root=data_root,
                          config=dumped if dumped.is_file() else Path(args.config)))
    return metrics


def score(cfg, work_dir: Path, num_vis: int):
    """The last checkpoint, its scores, the trivial predictor's, and samples to draw."""
    from mmengine.runner import load_checkpoint

    from mmsola.apis import build_model
    from mmsola.demo.evaluate import evaluate_segmentor, find_checkpoint
    checkpoint = find_checkpoint(work_dir)
    model = build_model(cfg)
    load_checkpoint(model, str(checkpoint), map_location='cpu')
    return (checkpoint, *evaluate_segmentor(model, cfg, num_keep=num_vis))


def draw(cfg, work_dir: Path, scores: Dict, trivial: Dict, kept: List[Dict]):
    """training_curve.png and predictions.png in ``work_dir``; also returns the val curve."""
    from mmsola.demo import METAINFO
    from mmsola.demo.plots import plot_prediction_grid, plot_training_curve, read_scalars
    scalars = max(work_dir.glob('*/vis_data/scalars.json'), key=lambda p: p.stat().st_mtime)
    curve = plot_training_curve(scalars, work_dir / 'training_curve.png', trivial['mIoU'])
    grid = plot_prediction_grid(
        kept, METAINFO['classes'], METAINFO['palette'], work_dir / 'predictions.png',
        title=f'UperNet-SoLA after {cfg.train_cfg.max_iters} iterations: '
              f'val mIoU {scores["mIoU"]:.1f}')
    return curve, grid, read_scalars(scalars)['mIoU']


def summary(metrics: Dict, paths: Dict) -> None:
    """What the user reads at the end: the scores, where everything is, what to try next."""
    minutes, seconds = divmod(int(metrics['total_seconds']), 60)
    trivial = metrics['trivial_predictor']
    print(f'\nmmsola demo finished in {minutes}m {seconds:02d}s (training '
          f'{metrics["train_seconds"] / 60:.1f} min, {metrics["train_cpu_seconds"] / 60:.1f} '
          'CPU-min)')
    print(f'  val mIoU {metrics["mIoU"]:.2f}  (trivial predictor, every pixel '
          f'{trivial["class"]!r}: {trivial["mIoU"]:.2f})')
    print('  per class IoU: ' + ', '.join(f'{k} {v}' for k, v in
                                          metrics['per_class_IoU'].items()))
    # cars and boats are drawn alike: only the scene around them tells them apart
    pixels, names = np.asarray(metrics['confusion']['pixels']), metrics['confusion']['classes']
    car, boat = names.index('car'), names.index('boat')
    twins = [100 * pixels[a, b] / max(pixels[a].sum(), 1) for a, b in ((car, boat), (boat, car))]
    print(f'  context: {twins[0]:.1f}% of car pixels taken for boat, {twins[1]:.1f}% of boat '
          'pixels for car')
    config, checkpoint = paths['config'], metrics['checkpoint']
    for name, path in (('metrics', metrics['metrics_file']), ('training curve', paths['curve']),
                       ('predictions', paths['grid']), ('checkpoint', checkpoint),
                       ('config', config)):
        print(f'  {name:<15}{path}')
    work_dir = Path(metrics['metrics_file']).parent
    print(f'  evaluate again: python tools/test.py {config} {checkpoint}')
    print(f'  segment images: python tools/infer.py {config} {checkpoint} '
          f'{paths["data_root"] / "images" / "validation"} --out-dir {work_dir / "infer"}')


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileExistsError, FileNotFoundError) as err:  # bad input, config
        print(error_line('run_demo.py', err), file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
    except TrainingFailed as err:
        print(error_line('run_demo.py', err), file=sys.stderr)
        sys.exit(1)
