"""Inference speed of a config's whole model in images/s (behind
``tools/analysis/inference_speed.py``).

What is timed: ``model.test_step(batch)``, the whole model as the toolkit's test loop runs it:
the data preprocessor (to the device, normalise, pad and stack), the network and the
post-processing (resize back to the image, NMS, masks, class scores), under ``no_grad``, with
the device synchronised around each call; ``warmup`` untimed calls, then the median of
``repeats`` timed calls (:func:`mmsola.analysis.timing.time_callable`).

What goes in: batches from the config's test pipeline, prepared before timing (data loading
is not timed): :func:`dataset_batches` from the config's test dataset, or
:func:`synthetic_batch` from random images of a given size fed through the same pipeline,
only the file and annotation loading left out.

Distributed: each process measures on its own device (its own share of the dataset);
:func:`measure_inference_speed` gathers every rank's result on rank 0.
"""
import itertools
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mmsola.errors import ArgumentError
from mmsola.utils.dataset_wrappers import pipeline_dataset
from mmsola.utils.devices import choose_device

# test-pipeline transforms that read files; synthetic inputs leave them out
FILE_LOADERS = ('LoadImageFromFile', 'LoadAnnotations', 'LoadDepthAnnotation')


# ------------------------------------------------------------------------------ inputs
def collate_fn(cfg):
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
    pipeline = [t for t in pipeline_dataset(cfg.test_dataloader.dataset).pipeline
                if str(t['type']).split('.')[-1] not in FILE_LOADERS]
    pipeline = Compose(pipeline)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch_size):
        img = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
        samples.append(pipeline(dict(img=img, img_shape=tuple(shape), ori_shape=tuple(shape),
                                     img_path=f'synthetic_{i}.jpg', img_id=i, sample_idx=i)))
    return collate_fn(cfg)(samples)


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
        raise ArgumentError(f'the test dataset has fewer than --batch-size={batch_size} images '
                         'for this process; lower --batch-size or use --synthetic')
    return batches


# ---------------------------------------------------------------------------- measuring
def measure(model, batches: List[object], batch_size: int, device: torch.device, *,
            warmup: int = 5, repeats: int = 20, max_seconds: Optional[float] = None,
            amp: bool = False) -> Dict:
    """Time ``model.test_step`` over ``batches`` (cycled): the stats of
    :func:`~mmsola.analysis.timing.time_callable` and ``images_per_s``. ``amp``: autocast,
    float16 on CUDA, bfloat16 on the CPU."""
    from mmengine.dist import is_main_process
    from mmengine.utils import ProgressBar

    from mmsola.analysis.timing import synchronizer, time_callable
    cycle = itertools.cycle(batches)
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    # progress with ETA on rank 0; its update runs while a GPU still computes (before the
    # synchronisation) and costs microseconds next to a CPU step
    progress = ProgressBar(warmup + repeats) if is_main_process() else None

    def step():
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=amp):
            model.test_step(next(cycle))
        if progress is not None:
            progress.update()

    stats = time_callable(step, warmup=warmup, repeats=repeats, sync=synchronizer(device),
                          max_total_s=max_seconds)
    if progress is not None:
        progress.file.write('\n')
    stats['images_per_s'] = batch_size / stats['median_s']
    return stats


def setup_distributed(cfg, launcher: str) -> None:
    """Start the process group (CPU: gloo, set up by mmsola's launcher helper; CUDA: the
    config's ``env_cfg.dist_cfg`` through mmengine)."""
    from mmengine.dist import init_dist

    from mmsola.launcher import setup_launcher
    setup_launcher(cfg, launcher)
    if launcher != 'none' and not torch.distributed.is_initialized():
        init_dist(launcher, **dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {}))


def report(result: Dict) -> str:
    """The lines printed for a :func:`measure_inference_speed` result: what was timed, each rank's
    images/s and their sum."""
    per_rank = result['per_rank']
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


def measure_inference_speed(config: str, checkpoint: Optional[str] = None, *,
                  cfg_options: Optional[dict] = None, device: Optional[str] = None,
                  batch_size: Optional[int] = None, warmup: int = 5, repeats: int = 20,
                  max_seconds: Optional[float] = None, synthetic: bool = False,
                  shape: Optional[Sequence[int]] = None, amp: bool = False,
                  threads: Optional[int] = None, launcher: str = 'none') -> Optional[Dict]:
    """Images/s of a config's whole model (random weights without ``checkpoint``).

    Args:
        config, checkpoint, cfg_options: the model (``cfg_options`` as ``DictAction`` parses
            ``--cfg-options``); the checkpoint must fit it.
        device: 'cuda' or 'cpu' (default: cuda if available); each distributed process
            takes the GPU of its local rank.
        batch_size: images per call (default: the config's test batch size).
        warmup, repeats, max_seconds, amp: see :func:`measure`.
        synthetic: random images even if the test dataset is on disk (it is used when it
            is there); ``shape`` (H, W) of those images (default: the config's test size).
        threads: CPU threads of torch (default: left as it is).
        launcher: 'none', 'pytorch', 'slurm' or 'mpi'.

    Returns:
        on rank 0 a dict (config, checkpoint, inputs, synthetic, batch_size, warmup, amp,
        world_size, images_per_s summed over ranks, per_rank stats, environment); None on
        the other ranks.

    Raises:
        ValueError: a config, checkpoint, device or dataset problem (ConfigError,
            CheckpointError); LauncherError.
    """
    from mmengine.dist import all_gather_object, barrier, get_rank
    from mmengine.runner import load_checkpoint

    import mmsola  # noqa: F401
    from mmsola.analysis.flops import test_input_shape
    from mmsola.analysis.timing import environment_info, fixed_threads
    from mmsola.checks import (
        DatasetNotFoundError,
        build_model,
        check_checkpoint,
        check_datasets,
        init_toolkit,
        load_config,
    )
    cfg = load_config(config, cfg_options)
    init_toolkit(cfg)  # the toolkit's registries (transforms, datasets) and default scope
    if checkpoint:
        check_checkpoint(cfg, checkpoint)
    batch_size = batch_size or cfg.test_dataloader.get('batch_size', 1)
    missing = None
    if not synthetic:
        try:
            check_datasets(cfg, ('test', ))
        except DatasetNotFoundError as err:  # its second line names the missing path
            lines = str(err).splitlines()
            missing = lines[min(1, len(lines) - 1)].strip()
    setup_distributed(cfg, launcher)
    device = choose_device(device, distributed=launcher != 'none')

    with fixed_threads(threads):
        batches = None
        if not (synthetic or missing):
            try:
                batches = dataset_batches(cfg, batch_size, warmup + repeats)
                dataset = pipeline_dataset(cfg.test_dataloader.dataset)
                inputs = (f'the test dataset ({dataset.type}, '
                          f'{len(batches)} batches cycled) through the test pipeline')
            except FileNotFoundError as err:  # a path the checks do not know about
                missing = str(err)
        if batches is None:
            shape = tuple(shape or test_input_shape(cfg))
            batches = [synthetic_batch(cfg, shape, batch_size)]
            why = '--synthetic' if synthetic else f'test dataset not found: {missing}'
            inputs = (f'synthetic {shape[0]}x{shape[1]} images through the test pipeline '
                      f'({why})')
        model = build_model(cfg, device=str(device))
        if checkpoint:
            load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        barrier()
        stats = measure(model, batches, batch_size, device, warmup=warmup, repeats=repeats,
                        max_seconds=max_seconds, amp=amp)
        env = environment_info(device)
    stats.pop('times_s')
    per_rank = all_gather_object(dict(stats, device=str(device)))
    if get_rank() != 0:
        return None
    return dict(config=config, checkpoint=checkpoint, inputs=inputs,
                synthetic=bool(synthetic or missing), batch_size=batch_size, warmup=warmup,
                amp=amp, world_size=len(per_rank),
                images_per_s=sum(r['images_per_s'] for r in per_rank), per_rank=per_rank,
                environment=env)
