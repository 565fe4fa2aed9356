"""The demo's run (``python -m demo.run_demo``, ``make demo``): train UperNet-SoLA on CPU in
minutes and show what it learned.

:func:`run_demo` does the four steps, printing each:

1. builds the synthetic ADE20K-layout dataset at ``data_root`` unless it is already there;
2. trains the config through tools/train.py, in a child process, in a new timestamped work
   dir under ``work_dir_root`` (mmengine's log lines show the loss and the ETA);
3. scores the final checkpoint on the validation split with mmseg's IoUMetric, next to the
   trivial predictor (every pixel the most frequent training class);
4. writes metrics.json, training_curve.png and predictions.png into the work dir, and prints
   where they are and how to run tools/test.py and tools/infer.py on the checkpoint.

A rerun reuses the dataset and gets a work dir of its own, so earlier runs are kept.
mmseg, matplotlib and the model are imported only when a run gets to them.
"""
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmsola.errors import ArgumentError
from .classes import METAINFO
from .synthetic_ade import DEFAULT_ROOT, ensure_demo_dataset, read_manifest

# the checkout's tools/train.py, which the demo runs as a child process
REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = 'configs/demo/upernet_sola_demo.py'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@dataclass
class DemoSettings:
    """One demo run: the options of demo/run_demo.py (same names and defaults). The
    dataset settings count only when the dataset is built; the training ones left None keep
    the config's values (``seed`` None: a new random seed, kept in metrics.json)."""
    config: str = DEFAULT_CONFIG
    data_root: str = DEFAULT_ROOT
    work_dir_root: str = 'work_dirs/demo'
    dataset_seed: int = 0
    num_train: int = 200
    num_val: int = 50
    image_size: int = 128
    iters: Optional[int] = None
    val_interval: Optional[int] = None
    batch_size: Optional[int] = None
    workers: Optional[int] = None
    seed: Optional[int] = None
    cfg_options: Dict = field(default_factory=dict)
    num_vis: int = 6


class TrainingFailed(RuntimeError):
    """tools/train.py, run as a child process, failed (it printed why)."""


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


def _schedule_overrides(cfg, settings: DemoSettings) -> Dict:
    """``--iters``: the demo's schedule (LinearLR warm-up, then PolyLR) fitted to it."""
    scheds = cfg.param_scheduler
    if [s['type'] for s in scheds] != ['LinearLR', 'PolyLR']:
        raise ArgumentError(f'--iters expects the demo schedule [LinearLR, PolyLR] in '
                         f'{settings.config}, found {[s["type"] for s in scheds]}')
    iters = settings.iters
    warmup = max(1, min(scheds[0]['end'], iters // 10))
    opts = {'train_cfg.max_iters': iters, 'param_scheduler.0.end': warmup,
            'param_scheduler.1.begin': warmup, 'param_scheduler.1.end': iters,
            'default_hooks.checkpoint.interval': iters}
    if settings.val_interval is None:
        opts['train_cfg.val_interval'] = min(cfg.train_cfg.val_interval, iters)
    return opts


def run_overrides(cfg, settings: DemoSettings, data_root: Path) -> Dict:
    """The ``--cfg-options`` that point the config at ``data_root`` and apply the run flags.

    With ``iters``, the demo's schedule (LinearLR warm-up, then PolyLR) is fitted to it: the
    warm-up keeps at most a tenth of the iterations, the decay ends at the last iteration, and
    the checkpoint is saved there.
    """
    opts = dict(settings.cfg_options)
    for loader in LOADERS:
        opts[f'{loader}.dataset.data_root'] = str(data_root)
    if settings.iters is not None:
        opts.update(_schedule_overrides(cfg, settings))
    if settings.val_interval is not None:
        opts['train_cfg.val_interval'] = settings.val_interval
    if settings.batch_size is not None:
        opts['train_dataloader.batch_size'] = settings.batch_size
    if settings.workers is not None:
        for loader in LOADERS:
            opts[f'{loader}.num_workers'] = settings.workers
            opts[f'{loader}.persistent_workers'] = settings.workers > 0
    opts['randomness.seed'] = (settings.seed if settings.seed is not None
                               else random.randrange(2**31))
    return opts


def format_options(opts: Dict) -> List[str]:
    """``{'a.b': 1}`` -> ``['a.b=1']`` as DictAction reads it back (lists, tuples, bools)."""
    def text(v):
        if isinstance(v, (list, tuple)):
            inner = ','.join(text(x) for x in v)
            return f'[{inner}]' if isinstance(v, list) else f'({inner})'
        return str(v)
    return [f'{k}={text(v)}' for k, v in opts.items()]


def train(config: str, work_dir: Path, opts: Dict) -> Tuple[float, float]:
    """Run tools/train.py in a child process (its log shows the progress and ETA).

    Returns the wall seconds it took and the CPU seconds it used (all its threads and data
    workers): on a busy machine the second tells what it costs.
    """
    cmd = [sys.executable, str(REPO / 'tools' / 'train.py'), config, '--work-dir',
           str(work_dir), '--cfg-options', *format_options(opts)]
    print('  $ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    # idle OpenMP threads sleep instead of spinning (demo/run_demo.py says why); a
    # user's value wins
    env = dict(os.environ)
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    start, cpu = time.time(), _children_cpu()
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0:
        raise TrainingFailed(f'training failed (exit code {done.returncode}); its log is in '
                             f'{work_dir}')
    return time.time() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def prepare_dataset(settings: DemoSettings) -> Tuple[Path, bool, dict]:
    """Step 1: the dataset at ``settings.data_root``, built unless there; (root, built,
    manifest)."""
    step(1, f'dataset at {settings.data_root}')
    data_root, built = ensure_demo_dataset(settings.data_root, settings.dataset_seed,
                                           settings.num_train, settings.num_val,
                                           settings.image_size)
    manifest = read_manifest(data_root)
    print(f'  {"built" if built else "reused (already built)"}: {manifest["num_train"]} train '
          f'/ {manifest["num_val"]} val images, {manifest["image_size"]}px, '
          f'seed {manifest["seed"]}', flush=True)
    return data_root, built, manifest


def demo_config(settings: DemoSettings, data_root: Path):
    """The config with the run's overrides merged; (config, overrides). Raises ValueError for
    a config that does not name the demo dataset's classes."""
    from mmsola.checks import load_config
    cfg = load_config(settings.config, settings.cfg_options)
    opts = run_overrides(cfg, settings, data_root.resolve())
    cfg.merge_from_dict(opts)
    if tuple(cfg.val_dataloader.dataset.metainfo['classes']) != METAINFO['classes']:
        raise ArgumentError(f'{settings.config} does not name the demo dataset\'s classes '
                         f'{METAINFO["classes"]} in its dataset metainfo')
    return cfg, opts


def run_demo(settings: DemoSettings) -> Dict:
    """The four steps (module docstring); returns what metrics.json holds.

    Raises:
        mmsola.errors.UserError (ArgumentError, OutputExistsError, InputNotFoundError, ...):
            input the demo cannot work with (a dataset root holding something else, a config
            of another dataset or schedule).
        TrainingFailed: tools/train.py failed (its log says why).
    """
    started = time.time()
    data_root, built, manifest = prepare_dataset(settings)
    cfg, opts = demo_config(settings, data_root)
    work_dir = new_work_dir(Path(settings.work_dir_root))
    step(2, f'training {cfg.train_cfg.max_iters} iterations of {Path(settings.config).name} in '
            f'{work_dir} (a log line every {cfg.default_hooks.logger.interval} iterations, '
            'with the ETA)')
    train_seconds, train_cpu = train(settings.config, work_dir, opts)

    step(3, 'scoring the final checkpoint on the validation split (mmseg IoUMetric)')
    checkpoint, scores, trivial, kept = score(cfg, work_dir, settings.num_vis)
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
        checkpoint=str(checkpoint), config=settings.config, cfg_options=opts,
        metrics_file=str(work_dir / 'metrics.json'), dataset_built=built,
        dataset=dict(root=str(data_root), **{k: manifest[k] for k in (
            'seed', 'num_train', 'num_val', 'image_size')}))
    Path(metrics['metrics_file']).write_text(json.dumps(metrics, indent=2) + '\n')
    dumped = work_dir / Path(settings.config).name  # tools/train.py saves the merged config
    summary(metrics, dict(curve=curve, grid=grid, data_root=data_root,
                          config=dumped if dumped.is_file() else Path(settings.config)))
    return metrics


def score(cfg, work_dir: Path, num_vis: int):
    """The last checkpoint, its scores, the trivial predictor's, and samples to draw."""
    from mmengine.runner import load_checkpoint

    from mmsola.checks import build_model
    from .evaluate import evaluate_segmentor, find_checkpoint
    checkpoint = find_checkpoint(work_dir)
    model = build_model(cfg)
    load_checkpoint(model, str(checkpoint), map_location='cpu')
    return (checkpoint, *evaluate_segmentor(model, cfg, num_keep=num_vis))


def draw(cfg, work_dir: Path, scores: Dict, trivial: Dict, kept: List[Dict]):
    """training_curve.png and predictions.png in ``work_dir``; also returns the val curve."""
    from .plots import plot_prediction_grid, plot_training_curve, read_scalars
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
