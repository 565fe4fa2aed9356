"""Accuracy against layer pattern: one config trained once per pattern and seed, all else equal.

For every (pattern, seed) the config is trained through mmengine's Runner with only
``model.backbone.layer_pattern`` and ``randomness.seed`` changed (same recipe, schedule and,
for one seed, the same data order), then evaluated on its test split with its own evaluator.
The cost of each pattern (params, FLOPs, latency) is measured on the whole model at the
config's test size. Layout of a study's work dir::

    runs/<pattern>/seed<k>/             the run's mmengine work dir (logs, config, checkpoints)
    runs/<pattern>/seed<k>/result.json  its test metrics, written once the run has finished
    costs/<pattern>.json                params, FLOPs, latency of the pattern
    study.csv, study.png, study.log

A study started again skips every run with a ``result.json`` and resumes a run that has a
checkpoint but no result from that checkpoint. Runs go seed by seed (every pattern once, then
the next seed), so a study stopped early has all patterns at the first seeds.
:func:`plan_study` checks everything before any training; :func:`run_study` trains, tests and
tabulates; pattern_study.py beside this file is the command line (and draws study.png).
"""
import copy
import json
import logging
import numbers
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from mmsola.analysis.output import hms, write_csv
from mmsola.analysis.patterns import collect_patterns, pattern_text, softmax_per_stage
from mmsola.errors import UserError

LOGGER = 'mmsola.pattern_study'
RESULT = 'result.json'
BACKBONE_TYPES = ('SoLAVision', 'mmsola.SoLAVision')


class StudyError(UserError, ValueError):
    """A study that cannot run as asked; the message says what to change."""


def pattern_slug(pattern: Sequence[str]) -> str:
    """A folder name for a pattern: ``['L', 'LS']`` -> ``'L-LS'``."""
    return '-'.join(pattern)


def config_pattern(cfg: Config) -> List[str]:
    """The layer pattern the config's SoLAVision backbone has.

    Raises:
        StudyError: the config's backbone is not a SoLAVision.
    """
    from mmsola.models import SoLAVision
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    if backbone.get('type') not in BACKBONE_TYPES:
        raise StudyError(f'{cfg.filename or "the config"}: model.backbone is '
                         f'{backbone.get("type")!r}, not SoLAVision; a pattern study varies '
                         "the backbone's layer_pattern, so it needs a SoLA-Vision config")
    return SoLAVision.resolve_arch(backbone.get('arch', 'tiny'),
                                   layer_pattern=backbone.get('layer_pattern'))['layer_pattern']


def check_patterns(cfg: Config, patterns: Sequence[Sequence[str]]) -> None:
    """Every pattern builds with the config's arch (depths follow the pattern; heads and
    widths stay), e.g. an 'H' block needs an even number of heads in its stage."""
    from mmsola.models import SoLAVision
    arch = cfg.model.backbone.get('arch', 'tiny')
    for pattern in patterns:
        try:
            SoLAVision.resolve_arch(arch, layer_pattern=list(pattern))
        except ValueError as err:
            raise StudyError(f'pattern {pattern_text(pattern)}: {err}') from err


@dataclass
class Run:
    """One training run of a study."""
    pattern: List[str]
    seed: int
    work_dir: Path

    @property
    def name(self) -> str:
        return f'{pattern_text(self.pattern)} seed {self.seed}'

    @property
    def result_path(self) -> Path:
        return self.work_dir / RESULT

    def finished(self) -> bool:
        return self.result_path.is_file()

    def result(self) -> dict:
        return json.loads(self.result_path.read_text())


def plan_runs(patterns: Sequence[Sequence[str]], seeds: Sequence[int],
              work_dir: Path) -> List[Run]:
    """The runs in the order they go: seed by seed, every pattern at each seed."""
    return [Run(list(p), s, Path(work_dir) / 'runs' / pattern_slug(p) / f'seed{s}')
            for s in seeds for p in patterns]


def run_config(cfg: Config, run: Run, launcher: str = 'none') -> Config:
    """``cfg`` for one run: its pattern, its seed, its work dir, own mmengine instance names,
    and resuming from the run's latest checkpoint when it has one."""
    from mmsola.checks import resolve_resume
    from mmsola.launcher import setup_launcher
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.layer_pattern = list(run.pattern)
    randomness = dict(cfg.get('randomness') or {})
    randomness['seed'] = run.seed
    cfg.randomness = randomness
    cfg.work_dir = str(run.work_dir)
    unique = f'{pattern_slug(run.pattern)}_seed{run.seed}_{time.time_ns()}'
    cfg.experiment_name = f'pattern_study_{unique}'
    if cfg.get('visualizer') is not None:
        cfg.visualizer.name = f'visualizer_{unique}'
    latest = resolve_resume(cfg, 'auto') if run.work_dir.is_dir() else None
    cfg.resume, cfg.load_from = (True, latest) if latest else (False, None)
    setup_launcher(cfg, launcher)
    return cfg


def train_and_test(cfg: Config) -> Dict[str, float]:
    """Train ``cfg`` with its Runner, then evaluate the trained model on the test split."""
    from mmsola.launcher import build_runner
    runner = build_runner(cfg)
    runner.train()
    metrics = runner.test()
    return {k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real)}


def metric_name(cfg: Config, metrics: Dict[str, float], wanted: Optional[str] = None) -> str:
    """The metric a study compares: ``wanted``, else the config's ``save_best`` metric, else
    the evaluator's first."""
    if wanted is not None:
        if wanted not in metrics:
            raise StudyError(f'--metric {wanted!r}: the evaluator reports {sorted(metrics)}')
        return wanted
    best = ((cfg.get('default_hooks') or {}).get('checkpoint') or {}).get('save_best')
    if isinstance(best, str) and best in metrics:
        return best
    if not metrics:
        raise StudyError('the test evaluator reported no numeric metric')
    return next(iter(metrics))


def _write_json(path: Path, data: dict) -> None:
    from mmsola.utils import AtomicLocalBackend
    AtomicLocalBackend().put_text(json.dumps(data, indent=1) + '\n', path)


def _is_main_process() -> bool:
    from mmengine.dist import get_rank
    return get_rank() == 0


def measure_cost(config: str, cfg_options: Optional[dict], pattern: Sequence[str],
                 warmup: int = 2, repeats: int = 5) -> Dict[str, object]:
    """Params, FLOPs (attention counted) and batch-1 latency of the whole model with
    ``pattern``, at the config's test size, in eval mode on the CPU (or the GPU if there is
    one)."""
    import torch

    from mmsola.analysis.flops import report_config, tensor_mode_model
    from mmsola.analysis.timing import environment_info, synchronizer, time_callable
    from mmsola.checks import build_model, load_config, toolkit_of
    options = dict(cfg_options or {})
    options['model.backbone.layer_pattern'] = list(pattern)
    counted = report_config(config, None, options)
    from mmsola.utils.devices import default_device
    device = default_device()
    cfg = load_config(config, options)
    shape = counted['shape']
    model = tensor_mode_model(build_model(cfg, device), toolkit_of(cfg), shape)
    x = torch.randn(1, 3, *shape, device=device)
    with torch.no_grad():
        timing = time_callable(lambda: model(x), warmup=warmup, repeats=repeats,
                               sync=synchronizer(device))
    env = environment_info(device)
    return dict(params_M=round(counted['params'] / 1e6, 6),
                flops_G=round(counted['flops'] / 1e9, 6),
                softmax_attn_G=round(counted['attention']['softmax'] / 1e9, 6),
                latency_ms=round(timing['median_s'] * 1e3, 3),
                latency_cpu_ms=round(timing['cpu_median_s'] * 1e3, 3),
                test_size=f'{shape[0]}x{shape[1]}', device=env['device'],
                torch_threads=env['torch_threads'])


def pareto_front(points: Sequence[tuple]) -> List[bool]:
    """Per (cost, value) point: True if no other point costs no more and scores no less,
    and is better in one of them (lower cost, higher value)."""
    front = []
    for c, v in points:
        dominated = any(c2 <= c and v2 >= v and (c2 < c or v2 > v) for c2, v2 in points)
        front.append(not dominated)
    return front


def summarise(patterns: Sequence[Sequence[str]], runs: Sequence[Run], costs: Dict[str, dict],
              metric: str) -> List[Dict[str, object]]:
    """One row per pattern with at least one finished run: cost, then the metric's mean,
    sample standard deviation, min and max over the seeds, and the per-seed values."""
    rows = []
    for pattern in patterns:
        done = [r for r in runs if r.pattern == list(pattern) and r.finished()]
        if not done:
            continue
        values = [r.result()['metrics'][metric] for r in done]
        stages = softmax_per_stage(pattern)
        rows.append(dict(
            layer_pattern=pattern_text(pattern), softmax_per_stage=stages,
            softmax_blocks=f'{sum(float(s) for s in stages.split("/")):g}',
            **costs[pattern_slug(pattern)], metric=metric,
            metric_mean=round(statistics.fmean(values), 4),
            metric_std=round(statistics.stdev(values), 4) if len(values) > 1 else '',
            metric_min=round(min(values), 4), metric_max=round(max(values), 4),
            seeds=len(values), seed_values=' '.join(f'{v:.4f}' for v in values),
            seed_list=' '.join(str(r.seed) for r in done)))
    for key in ('flops_G', 'latency_ms'):
        front = pareto_front([(r[key], r['metric_mean']) for r in rows])
        for row, on in zip(rows, front):
            row[f'pareto_{key.split("_")[0]}'] = on
    return rows


def _logger(work_dir: Path) -> MMLogger:
    name = f'{LOGGER}.{work_dir.resolve()}'
    if MMLogger.check_instance_created(name):
        return MMLogger.get_instance(name)
    work_dir.mkdir(parents=True, exist_ok=True)
    return MMLogger.get_instance(name, logger_name=LOGGER, log_file=str(work_dir / 'study.log'),
                                 file_mode='a')


@dataclass
class Study:
    """A checked study: the config, its patterns and runs, where it writes."""
    config: str
    cfg: Config
    patterns: List[List[str]]
    runs: List[Run]
    work_dir: Path
    cfg_options: Optional[dict] = None


def plan_study(config: str, patterns: Optional[Sequence[str]] = None,
               seeds: Optional[int] = None, work_dir: Optional[str] = None,
               cfg_options: Optional[dict] = None, softmax_blocks: Optional[Sequence[int]] = None,
               stage: int = 3, base_pattern: Optional[str] = None) -> Study:
    """Load and check everything a study needs before any training.

    Args:
        config: an mmsola config with a SoLAVision backbone.
        patterns: layer patterns (``'L/LL/LLLS/LS'`` strings), then the rule's:
            ``softmax_blocks`` 'S' blocks evenly spaced in ``stage`` (1-based) of
            ``base_pattern`` (default: the config's pattern)
            (:func:`mmsola.analysis.patterns.collect_patterns`). With neither, the config's
            own ``pattern_study = dict(patterns=[...], seeds=N)``.
        seeds: runs per pattern, with seeds 0 .. seeds - 1 (default: the config's, else 1).
        work_dir: the study's folder (default: ``work_dirs/pattern_study_<config name>``).
        cfg_options: overrides merged into the config for every run (and the cost).

    Raises:
        StudyError, ConfigError, DatasetNotFoundError, ValueError (a malformed pattern):
            what to change.
    """
    from mmsola.checks import check_datasets, load_config
    cfg = load_config(config, cfg_options)
    default = cfg.get('pattern_study') or {}
    if patterns is None and not softmax_blocks:
        patterns = default.get('patterns')
    patterns = collect_patterns(patterns, base_pattern or config_pattern(cfg), softmax_blocks,
                                stage)
    seeds = seeds if seeds is not None else default.get('seeds', 1)
    if seeds < 1:
        raise StudyError(f'--seeds {seeds}: need at least one seed')
    config_pattern(cfg)
    check_patterns(cfg, patterns)
    if work_dir is None:
        work_dir = str(Path('work_dirs') / f'pattern_study_{Path(config).stem}')
    study = Study(config, cfg, patterns, plan_runs(patterns, range(seeds), Path(work_dir)),
                  Path(work_dir), cfg_options)
    check_datasets(study.cfg, ('train', 'test'))
    return study


def run_study(study: Study, launcher: str = 'none', metric: Optional[str] = None,
              max_runs: Optional[int] = None,
              latency_repeats: int = 5) -> Optional[Dict[str, object]]:
    """Train and test every run not finished yet, measure every pattern's cost, write
    study.csv into the study's work dir.

    Args:
        launcher: as tools/train.py's ``--launcher``.
        metric: the metric to compare (default: the config's save_best, else the first).
        max_runs: train at most this many runs now (the rest on a later call).

    Returns:
        dict with ``rows`` (study.csv's), ``csv``, ``title`` (what the rows are, for a
        plot), ``trained`` (runs trained now), ``reused`` (finished before), ``pending``
        (runs left); None on ranks other than 0.
    """
    runs, out = study.runs, study.work_dir
    logger = _logger(out)
    todo = [r for r in runs if not r.finished()]  # decided once, alike on every rank
    reused = len(runs) - len(todo)
    seeds = len(runs) // len(study.patterns)
    print_log(f'pattern study of {study.config}: {len(study.patterns)} patterns x {seeds} '
              f'seeds = {len(runs)} runs, {reused} already finished', logger)
    if max_runs is not None:
        todo = todo[:max_runs]
    durations = []
    for run in todo:
        i = runs.index(run) + 1
        left = len(todo) - len(durations)
        eta = (f', ETA of the {left} runs left {hms(statistics.fmean(durations) * left)}'
               if durations else '')
        how = 'resuming' if (run.work_dir / 'last_checkpoint').is_file() else 'training'
        print_log(f'run {i} of {len(runs)}: {how} {run.name}{eta}', logger)
        start = time.perf_counter()
        metrics = train_and_test(run_config(study.cfg, run, launcher))
        durations.append(time.perf_counter() - start)
        if _is_main_process():
            _write_json(run.result_path, dict(layer_pattern=run.pattern, seed=run.seed,
                                              metrics=metrics, train_test_s=durations[-1]))
        print_log(f'run {i} of {len(runs)} done in {hms(durations[-1])}: {metrics}', logger)
    _barrier()
    if not _is_main_process():
        return None
    finished = [r for r in runs if r.finished()]
    if not finished:
        raise StudyError('no run has finished yet, so there is nothing to tabulate')
    name = metric_name(study.cfg, finished[0].result()['metrics'], metric)
    costs = {}
    for pattern in study.patterns:
        path = out / 'costs' / f'{pattern_slug(pattern)}.json'
        if not path.is_file():
            print_log(f'measuring params, FLOPs and latency of {pattern_text(pattern)}', logger)
            _write_json(path, measure_cost(study.config, study.cfg_options, pattern,
                                           repeats=latency_repeats))
        costs[pattern_slug(pattern)] = json.loads(path.read_text())
    rows = summarise(study.patterns, runs, costs, name)
    write_csv(rows, out / 'study.csv')
    first = rows[0]
    title = (f'{Path(study.config).name}: {name} on its test split after training, {seeds} '
             f"seed(s) per pattern; cost at {first['test_size']} on {first['device']} "
             f"({first['torch_threads']} threads)")
    pending = len(runs) - len(finished)
    print_log(f'wrote {out / "study.csv"} ({len(finished)} of {len(runs)} runs finished)',
              logger, level=logging.WARNING if pending else logging.INFO)
    return dict(rows=rows, csv=out / 'study.csv', title=title, trained=len(todo),
                reused=reused, pending=pending)


def _barrier() -> None:
    from mmengine.dist import barrier
    barrier()
