"""Inference speed of a config's whole model in images/s, on any device, on one or many processes.

    python tools/analysis/benchmark.py configs/upernet_sola_t_ade20k.py [CKPT] [--device cuda]
    torchrun --nproc_per_node 8 tools/analysis/benchmark.py CONFIG --launcher pytorch

What is timed: ``model.test_step(batch)``, the whole model as the toolkit's test loop runs it:
the data preprocessor (to the device, normalise, pad and stack), the network and the
post-processing (resize back to the image, NMS, masks, class scores), under ``no_grad``, with
the device synchronised around each call. ``--warmup`` untimed calls, then ``--repeats``
timed calls; the median gives images/s = batch size / median time per batch.

What goes in: batches from the config's test pipeline (decode, resize, pack), prepared
before timing (data loading is not timed). From the config's test dataset when it is on
disk; otherwise, or with ``--synthetic``, from random images of the config's test size
(``--shape`` to change it) fed through the same pipeline, only the file and annotation
loading left out. Without CKPT the weights are random (detection post-processing time then
depends on how many boxes random weights propose).

Distributed (``--launcher pytorch|slurm|mpi``): each process measures on its own device (its
own share of the dataset); rank 0 prints each rank and the sum, and writes ``--out``.
"""
import argparse
import itertools
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

# test-pipeline transforms that read files; synthetic inputs leave them out
_FILE_LOADERS = ('LoadImageFromFile', 'LoadAnnotations', 'LoadDepthAnnotation')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file (configs/*.py)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint of that config (default: random weights)')
    parser.add_argument('--device', default=None,
                        help="'cuda' or 'cpu' (default: cuda if available); each distributed "
                        'process takes the GPU of its local rank')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="images per call (default: the config's test batch size)")
    parser.add_argument('--warmup', type=int, default=5, help='untimed calls first')
    parser.add_argument('--repeats', type=int, default=20, help='timed calls (median)')
    parser.add_argument('--max-seconds', type=float, default=None,
                        help='stop the timed calls early after this long (>= 1 is timed)')
    parser.add_argument('--synthetic', action='store_true',
                        help='random images of the test size even if the dataset is there')
    parser.add_argument('--shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help="synthetic image size (default: the config's test size)")
    parser.add_argument('--amp', action='store_true',
                        help='autocast: float16 on CUDA, bfloat16 on the CPU')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of torch (default: left as it is)')
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides, key=value (dotted keys)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (torchrun: pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    for name in ('batch_size', 'repeats', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


# ------------------------------------------------------------------------------ inputs
def _test_dataset(cfg) -> dict:
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']  # wrappers (RepeatDataset, ...)
    return dataset


def _collate_fn(cfg):
    """The test dataloader's collate function (mmengine's ``pseudo_collate`` by default)."""
    from mmengine.registry import FUNCTIONS
    collate = dict(cfg.test_dataloader.get('collate_fn') or dict(type='pseudo_collate'))
    fn = collate.pop('type')
    fn = FUNCTIONS.get(fn) if isinstance(fn, str) else fn
    return (lambda batch: fn(batch, **collate)) if collate else fn


def synthetic_batch(cfg, shape: Sequence[int], batch_size: int, seed: int = 0):
    """One batch of random ``(H, W) = shape`` uint8 images through the test pipeline (file
    and annotation loading left out) and the test collate function."""
    from mmengine.dataset import Compose
    pipeline = [t for t in _test_dataset(cfg).pipeline
                if str(t['type']).split('.')[-1] not in _FILE_LOADERS]
    pipeline = Compose(pipeline)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch_size):
        img = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
        samples.append(pipeline(dict(img=img, img_shape=tuple(shape), ori_shape=tuple(shape),
                                     img_path=f'synthetic_{i}.jpg', img_id=i, sample_idx=i)))
    return _collate_fn(cfg)(samples)


def dataset_batches(cfg, batch_size: int, count: int) -> List[object]:
    """Up to ``count`` full batches of the test dataloader (this rank's share)."""
    from mmengine.runner import Runner
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg['batch_size'] = batch_size
    batches = []
    for batch in Runner.build_dataloader(loader_cfg, seed=0):
        if len(batch['inputs']) == batch_size:
            batches.append(batch)
        if len(batches) == count:
            break
    if not batches:
        raise ValueError(f'the test dataset has fewer than --batch-size={batch_size} images '
                         'for this process; lower --batch-size or use --synthetic')
    return batches


# ---------------------------------------------------------------------------- measuring
def measure(model, batches: List[object], batch_size: int, device: torch.device, args) -> Dict:
    """Time ``model.test_step`` over ``batches`` (cycled): seconds per batch, images/s."""
    from mmengine.dist import is_main_process
    from mmengine.utils import ProgressBar

    from mmsola.analysis.timing import synchronizer, time_callable
    cycle = itertools.cycle(batches)
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    # progress with ETA on rank 0; its update runs while a GPU still computes (before the
    # synchronisation) and costs microseconds next to a CPU step
    progress = ProgressBar(args.warmup + args.repeats) if is_main_process() else None

    def step():
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=args.amp):
            model.test_step(next(cycle))
        if progress is not None:
            progress.update()

    stats = time_callable(step, warmup=args.warmup, repeats=args.repeats,
                          sync=synchronizer(device), max_total_s=args.max_seconds)
    if progress is not None:
        progress.file.write('\n')
    stats['images_per_s'] = batch_size / stats['median_s']
    return stats


def setup_distributed(cfg, launcher: str) -> None:
    """Start the process group (CPU: gloo, set up by mmsola's launcher helper; CUDA: the
    config's ``env_cfg.dist_cfg`` through mmengine)."""
    from mmengine.dist import init_dist

    from mmsola.apis import setup_launcher
    setup_launcher(cfg, launcher)
    if launcher != 'none' and not torch.distributed.is_initialized():
        init_dist(launcher, **dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {}))


def pick_device(requested: Optional[str], launcher: str) -> torch.device:
    name = requested or ('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'--device {name}: CUDA is not available here; use --device cpu')
        if launcher != 'none':  # one GPU per process, as mmengine binds them
            device = torch.device('cuda', torch.cuda.current_device())
    elif device.type != 'cpu':
        raise ValueError(f"--device {name}: use 'cuda', 'cuda:N' or 'cpu'")
    return device


def report(result: Dict, per_rank: List[Dict]) -> str:
    lines = [f"config: {result['config']}",
             f"weights: {result['checkpoint'] or 'random (no checkpoint given)'}",
             f"inputs: {result['inputs']}",
             f"timed: model.test_step (data preprocessor + network + post-processing), "
             f"batch {result['batch_size']}, {result['warmup']} warm-up + median of "
             f"{per_rank[0]['repeats']} timed calls{', autocast' if result['amp'] else ''}",
             f"device: {result['environment']['device']} "
             f"({result['environment']['device_name']}, "
             f"{result['environment']['torch_threads']} torch threads)"]
    for rank, r in enumerate(per_rank):
        lines.append(f"rank {rank}: {r['images_per_s']:.2f} images/s ({r['median_s'] * 1e3:.1f} "
                     f"ms per batch, min {r['min_s'] * 1e3:.1f}, max {r['max_s'] * 1e3:.1f})")
    total = f" (sum over {len(per_rank)} processes)" if len(per_rank) > 1 else ''
    lines.append(f"images/s: {result['images_per_s']:.2f}{total}")
    return '\n'.join(lines)


def run(args) -> Optional[Dict]:
    """Benchmark; the result dict on rank 0, None on the other ranks."""
    from mmengine.dist import all_gather_object, barrier, get_rank
    from mmengine.runner import load_checkpoint

    import mmsola  # noqa: F401
    from mmsola.analysis.flops import test_input_shape
    from mmsola.analysis.timing import environment_info, fixed_threads
    from mmsola.apis import (
        DatasetNotFoundError,
        build_model,
        check_checkpoint,
        check_datasets,
        init_toolkit,
        load_config,
    )
    from mmsola.utils import check_writable
    if args.out:
        check_writable(args.out, '--out', folder=False)
    cfg = load_config(args.config, args.cfg_options)
    init_toolkit(cfg)  # the toolkit's registries (transforms, datasets) and default scope
    if args.checkpoint:
        check_checkpoint(cfg, args.checkpoint)
    batch_size = args.batch_size or cfg.test_dataloader.get('batch_size', 1)
    missing = None
    if not args.synthetic:
        try:
            check_datasets(cfg, ('test', ))
        except DatasetNotFoundError as err:  # its second line names the missing path
            lines = str(err).splitlines()
            missing = lines[min(1, len(lines) - 1)].strip()
    setup_distributed(cfg, args.launcher)
    device = pick_device(args.device, args.launcher)

    with fixed_threads(args.threads):
        batches = None
        if not (args.synthetic or missing):
            try:
                batches = dataset_batches(cfg, batch_size, args.warmup + args.repeats)
                inputs = (f'the test dataset ({_test_dataset(cfg).type}, '
                          f'{len(batches)} batches cycled) through the test pipeline')
            except FileNotFoundError as err:  # a path the checks do not know about
                missing = str(err)
        if batches is None:
            shape = tuple(args.shape or test_input_shape(cfg))
            batches = [synthetic_batch(cfg, shape, batch_size)]
            why = '--synthetic' if args.synthetic else f'test dataset not found: {missing}'
            inputs = (f'synthetic {shape[0]}x{shape[1]} images through the test pipeline '
                      f'({why})')
        model = build_model(cfg, device=str(device))
        if args.checkpoint:
            load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
        barrier()
        stats = measure(model, batches, batch_size, device, args)
        env = environment_info(device)
    stats.pop('times_s')
    per_rank = all_gather_object(dict(stats, device=str(device)))
    if get_rank() != 0:
        return None
    result = dict(config=args.config, checkpoint=args.checkpoint, inputs=inputs,
                  synthetic=bool(args.synthetic or missing), batch_size=batch_size,
                  warmup=args.warmup, amp=args.amp, world_size=len(per_rank),
                  images_per_s=sum(r['images_per_s'] for r in per_rank), per_rank=per_rank,
                  environment=env)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmsola.apis import LauncherError, run_error_message
    try:
        result = run(args)
    except (ValueError, LauncherError) as err:  # config, checkpoint, device, launcher
        print(f'benchmark.py: error: {err}', file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (a damaged image of the test set)
        message = run_error_message(err)
        if message is None:
            raise
        print(f'benchmark.py: error: {message}', file=sys.stderr)
        return 2
    if result is None:
        return 0
    print(report(result, result['per_rank']))
    if args.out:
        from mmsola.utils import AtomicLocalBackend
        AtomicLocalBackend().put_text(json.dumps(result, indent=2), args.out)
        print(f'wrote {osp.abspath(args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
