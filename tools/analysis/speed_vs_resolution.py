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
``cpu_vs_ref`` divide by ``--reference`` (default Swin-T) at the same point. A point predicted
(from the smaller resolutions of the same series) to exceed ``--time-budget`` or the free
memory is skipped, and so are the larger ones; the CSV says so in its ``status`` column.
Device, versions and settings go into every row.

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
"""
import argparse
import contextlib
import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import torch
from torch import nn

from mmsola.analysis.timing import (
    available_memory,
    environment_info,
    fixed_threads,
    peak_memory,
    synchronizer,
    time_callable,
)

DEFAULT_RESOLUTIONS = (224, 384, 512, 768, 1024, 1536, 2048)
SOLA_T_PATTERNS = {
    'sola-t': None,  # the arch's default: LL / LLLL / LLLSLLLS / LLLS
    'sola-t-all-linear': ['LL', 'LLLL', 'L' * 8, 'LLLL'],
    'sola-t-all-softmax': ['SS', 'SSSS', 'S' * 8, 'SSSS'],
}
ENV_COLUMNS = ('device', 'device_name', 'cpu_count', 'torch', 'triton', 'mmengine', 'mmsola',
               'python', 'cuda', 'cudnn', 'cpu_memory_method', 'date_utc')
COLUMNS = ('model', 'description', 'params_M', 'mode', 'batch', 'resolution', 'status',
           'median_ms', 'min_ms', 'ms_per_image', 'images_per_s', 'peak_mem_MB', 'time_vs_ref',
           'cpu_ms', 'cpu_vs_ref',
           'repeats', 'warmup', 'threads', 'amp', 'channels_last') + ENV_COLUMNS


@dataclass
class ModelSpec:
    """A model to measure: ``build()`` returns an ``nn.Module`` mapping (B, 3, H, W) images
    to a tensor or a tuple of tensors."""
    name: str
    description: str
    build: Callable[[], nn.Module]


@dataclass
class Series:
    """The points of one (model, mode, batch) over increasing resolutions."""
    spec: ModelSpec
    mode: str  # 'infer' | 'train'
    batch: int
    model: nn.Module
    optimizer: Optional[torch.optim.Optimizer] = None  # AdamW for 'train'
    done: List[dict] = field(default_factory=list)  # measured points (resolution, s, bytes)
    stopped: str = ''  # why the remaining resolutions are skipped

    def __post_init__(self):
        self.params = sum(p.numel() for p in self.model.parameters())
        if self.mode == 'train':
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)


# ------------------------------------------------------------------------------------ models
def sola_spec(name: str, arch, layer_pattern=None, attn_backend: str = 'auto') -> ModelSpec:
    from mmsola.models import SoLAVision

    def build():
        return SoLAVision(arch=arch, layer_pattern=layer_pattern, out_indices=(0, 1, 2, 3),
                          attn_backend=attn_backend)

    pattern = layer_pattern or SoLAVision.resolve_arch(arch)['layer_pattern']
    pattern = '/'.join(pattern) if not isinstance(pattern, str) else pattern
    arch_desc = arch if isinstance(arch, str) else json.dumps(arch, sort_keys=True)
    return ModelSpec(name, f'SoLAVision arch={arch_desc} pattern={pattern}', build)


def swin_spec() -> ModelSpec:
    def build():
        try:
            from mmpretrain.models import SwinTransformer
        except ImportError as e:
            raise RuntimeError('--compare builds Swin-T from mmpretrain, which is not '
                               f'installed ({e}); pip install "mmpretrain>=1.0,<1.3"') from e
        # window attention pads any input, so one model serves every resolution
        return SwinTransformer(arch='tiny', out_indices=(0, 1, 2, 3))

    return ModelSpec('swin-t', 'mmpretrain SwinTransformer arch=tiny, out_indices=(0,1,2,3)',
                     build)


def config_spec(path: str) -> ModelSpec:
    def build():
        from mmsola.apis.config import build_model, load_config
        model = build_model(load_config(path))
        return getattr(model, 'backbone', model)

    return ModelSpec(Path(path).stem, f'backbone of {path}', build)


def parse_arch(text: str):
    """A preset name, or a JSON dict (``'{"embed_dims": 32, ...}'``)."""
    if text.lstrip().startswith('{'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise SystemExit(f'error: --arch {text!r} is not valid JSON: {e}')
    return text


def model_specs(args) -> List[ModelSpec]:
    specs = []
    for arch_text in args.arch or []:
        arch = parse_arch(arch_text)
        name = f'sola-{arch}' if isinstance(arch, str) else f'sola-custom{len(specs)}'
        if args.layer_pattern:
            name += '-' + args.layer_pattern.replace('/', '_')
        specs.append(sola_spec(name, arch, args.layer_pattern, args.attn_backend))
    for path in args.config or []:
        if not Path(path).is_file():
            raise SystemExit(f'error: --config {path!r} does not exist')
        specs.append(config_spec(path))
    if args.compare:
        specs += [sola_spec(n, 'tiny', p, args.attn_backend) for n, p in SOLA_T_PATTERNS.items()]
        specs.append(swin_spec())
    if not specs:
        raise SystemExit('error: nothing to measure: give --arch, --config or --compare')
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SystemExit(f'error: model names must be unique, got {names}')
    return specs


# ------------------------------------------------------------------------------- measuring
def outputs_mean(out) -> torch.Tensor:
    """Sum of the means of every output tensor (a scalar loss touching every output)."""
    if isinstance(out, torch.Tensor):
        return out.float().mean()
    return sum(outputs_mean(o) for o in out)


def predict(done: List[dict], key: str, resolution: int) -> Optional[float]:
    """Extrapolate ``key`` to ``resolution`` from the measured points: a power law in the
    pixel count fitted to the last two points, exponent clamped to [1, 2] (linear to
    quadratic in the tokens); linear in pixels from a single point."""
    pts = [p for p in done if p.get(key)]
    if not pts:
        return None
    r1, v1 = pts[-1]['resolution'], pts[-1][key]
    exponent = 1.
    if len(pts) >= 2:
        r0, v0 = pts[-2]['resolution'], pts[-2][key]
        if r1 != r0 and v0 > 0:
            exponent = math.log(v1 / v0) / math.log((r1 / r0)**2)
    exponent = min(max(exponent, 1.), 2.)
    return v1 * ((resolution / r1)**2)**exponent


def is_oom(e: BaseException) -> bool:
    text = str(e).lower()
    return isinstance(e, torch.OutOfMemoryError) or 'out of memory' in text or (
        "can't allocate memory" in text)


class Runner:
    """Measures one point at a time; holds the settings and the per-series models."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.sync = synchronizer(self.device)
        self.memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
        self.amp_dtype = getattr(torch, args.amp_dtype)

    def autocast(self):
        if not self.args.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def prepare(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if self.args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def step_fn(self, model: nn.Module, mode: str, x: torch.Tensor, optimizer=None):
        if mode == 'infer':

            def step():
                with torch.no_grad(), self.autocast():
                    return model(x)

            return step

        def step():
            with self.autocast():
                loss = outputs_mean(model(x))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return step

    def measure(self, model, mode: str, batch: int, resolution: int, optimizer=None) -> dict:
        """Time and memory of one point; raises on errors (OOM included)."""
        args = self.args
        x = torch.randn(batch, 3, resolution, resolution, device=self.device)
        x = x.contiguous(memory_format=self.memory_format)
        if mode == 'infer':
            model.eval()
        else:
            model.train()
        step = self.step_fn(model, mode, x, optimizer)
        timing = time_callable(step, warmup=args.warmup, repeats=args.repeats, sync=self.sync,
                               max_total_s=args.time_budget)
        peak = peak_memory(step, self.device)
        return dict(median_s=timing['median_s'], min_s=timing['min_s'],
                    cpu_s=timing['cpu_median_s'], repeats=timing['repeats'], peak_bytes=peak)


def skip_reason(series: Series, resolution: int, args, device) -> str:
    """Why this point should not run ('' to run it)."""
    if series.stopped:
        return series.stopped
    calls = args.warmup + args.repeats + 1
    t = predict(series.done, 'median_s', resolution)
    if t is not None and t * calls > args.time_budget:
        return (f'skipped: predicted {t:.1f} s per call x {calls} calls > time budget '
                f'{args.time_budget:g} s')
    m = predict(series.done, 'peak_bytes', resolution)
    free = available_memory(device)
    if m is not None and free is not None and m > args.memory_fraction * free:
        return (f'skipped: predicted peak {m / 2**20:.0f} MB > {args.memory_fraction:g} x '
                f'available {free / 2**20:.0f} MB')
    return ''


def measure_point(series: Series, res: int, runner: Runner) -> dict:
    """The CSV row of one point of ``series`` (measured, skipped or out of memory)."""
    args = runner.args
    row = dict(model=series.spec.name, description=series.spec.description,
               params_M=round(series.params / 1e6, 3), mode=series.mode, batch=series.batch,
               resolution=res)
    row['status'] = skip_reason(series, res, args, runner.device)
    if not row['status']:
        try:
            result = runner.measure(series.model, series.mode, series.batch, res,
                                    series.optimizer)
        except Exception as e:  # noqa: BLE001  (an OOM goes into the row; others raise)
            if not is_oom(e):
                raise
            row['status'] = f'oom: {str(e).splitlines()[0][:120]}'
            series.stopped = 'skipped: a smaller resolution ran out of memory'
            _free(runner.device)
        else:
            row.update(status='ok', **_result_columns(result, series.batch))
            series.done.append(dict(resolution=res, **result))
            if result['median_s'] * (args.warmup + args.repeats + 1) > args.time_budget:
                series.stopped = ('skipped: a smaller resolution exceeded the time budget '
                                  f'{args.time_budget:g} s')
    if row['status'] != 'ok' and not series.stopped:
        series.stopped = 'skipped: a smaller resolution was skipped'
    return row


def run(args) -> List[dict]:
    """Measure every point; returns the CSV rows (grouped by model).

    The models are measured side by side: for each (mode, batch) and resolution every model
    in turn, so a change in the machine's load between points affects all models alike.
    """
    specs = model_specs(args)
    runner = Runner(args)
    env = environment_info(args.device)
    groups = [('infer', b) for b in args.infer_batches] if 'infer' in args.modes else []
    if 'train' in args.modes:
        groups.append(('train', args.train_batch))
    resolutions = sorted(set(args.resolutions))
    total = len(specs) * len(groups) * len(resolutions)
    print(f'{total} points: {len(specs)} models x {len(groups)} (mode, batch) x '
          f'{len(resolutions)} resolutions on {env["device"]} ({env["device_name"]}), '
          f'{env["torch_threads"]} threads', flush=True)
    models = {}
    for spec in specs:
        torch.manual_seed(0)
        models[spec.name] = runner.prepare(spec.build())
    progress = Progress(total)
    rows = []
    for mode, batch in groups:
        series = [Series(spec, mode, batch, models[spec.name]) for spec in specs]
        for res in resolutions:
            for s in series:
                rows.append(measure_point(s, res, runner))
                print(progress.update() + _progress_line(rows[-1]), flush=True)
        for s in series:
            s.optimizer = None
    del models
    _free(runner.device)
    order = {spec.name: i for i, spec in enumerate(specs)}
    rows.sort(key=lambda r: order[r['model']])  # stable: groups and resolutions keep order
    add_ratios(rows, args.reference or _default_reference(specs))
    settings = dict(warmup=args.warmup, threads=env['torch_threads'],
                    amp=args.amp_dtype if args.amp else 'off', channels_last=args.channels_last)
    for row in rows:
        row.update(settings)
        row.update({k: env[k] for k in ENV_COLUMNS})
    return rows


class Progress:
    """``[done/total elapsed, ETA]`` prefixes; the ETA assumes the remaining points take as
    long on average as the finished ones (skipped points count as done)."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def update(self) -> str:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        return f'[{self.done}/{self.total} {_hms(elapsed)} elapsed, ETA {_hms(eta)}] '


def _hms(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f'{h}:{m:02d}:{s:02d}'


def _free(device: torch.device) -> None:
    import gc
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def _result_columns(result: dict, batch: int) -> dict:
    return dict(median_ms=round(result['median_s'] * 1e3, 3),
                min_ms=round(result['min_s'] * 1e3, 3),
                ms_per_image=round(result['median_s'] * 1e3 / batch, 3),
                cpu_ms=round(result['cpu_s'] * 1e3, 3),
                images_per_s=round(batch / result['median_s'], 3),
                peak_mem_MB=round(result['peak_bytes'] / 2**20, 1), repeats=result['repeats'])


def _progress_line(row: dict) -> str:
    head = f"{row['model']:>20} {row['mode']:>5} b{row['batch']:<3} {row['resolution']:>5}: "
    if row['status'] != 'ok':
        return head + row['status']
    return (head + f"{row['median_ms']:10.1f} ms ({row['cpu_ms']:.0f} ms CPU)  "
            f"{row['images_per_s']:9.2f} img/s  {row['peak_mem_MB']:9.1f} MB")


def _default_reference(specs: Sequence[ModelSpec]) -> str:
    names = [s.name for s in specs]
    return 'swin-t' if 'swin-t' in names else names[0]


def add_ratios(rows: List[dict], reference: str) -> None:
    """``time_vs_ref`` (``cpu_vs_ref``): median wall (process CPU) time / the reference
    model's at the same mode, batch and resolution (both measured), else empty."""
    for column, ratio in (('median_ms', 'time_vs_ref'), ('cpu_ms', 'cpu_vs_ref')):
        ref = {(r['mode'], r['batch'], r['resolution']): r[column] for r in rows
               if r['model'] == reference and r['status'] == 'ok'}
        for r in rows:
            base = ref.get((r['mode'], r['batch'], r['resolution']))
            r[ratio] = round(r[column] / base, 3) if base and r['status'] == 'ok' else ''


# ----------------------------------------------------------------------------------- output
def write_csv(rows: List[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, '') for k in COLUMNS})


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


def summary_tables(rows: List[dict]) -> str:
    """Markdown tables, one per (mode, batch): a row per resolution, a column per model,
    cells ``time_vs_ref / cpu_vs_ref (median ms)``, or the status word of a point that did
    not run."""
    models = list(dict.fromkeys(r['model'] for r in rows))
    groups = list(dict.fromkeys((r['mode'], r['batch']) for r in rows))
    by_key = {(r['model'], r['mode'], r['batch'], r['resolution']): r for r in rows}
    out = []
    for mode, batch in groups:
        what = 'inference' if mode == 'infer' else 'training step'
        out += [f'{what}, batch {batch}: wall / CPU time vs the reference (median wall ms per '
                'call)', '',
                '| input | ' + ' | '.join(models) + ' |', '|---' * (len(models) + 1) + '|']
        for res in sorted({r['resolution'] for r in rows}):
            cells = []
            for m in models:
                r = by_key.get((m, mode, batch, res))
                if r is None:
                    cells.append('')
                elif r['status'] != 'ok':
                    cells.append(r['status'].split(':')[0])
                else:
                    ratio = (f"{r['time_vs_ref']:.2f}x / {r['cpu_vs_ref']:.2f}x "
                             if r['time_vs_ref'] != '' and r['cpu_vs_ref'] != '' else '')
                    cells.append(f"{ratio}({r['median_ms']:.0f})")
            out.append(f'| {res} | ' + ' | '.join(cells) + ' |')
        out.append('')
    return '\n'.join(out)


# -------------------------------------------------------------------------------------- CLI
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
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
    args = p.parse_args(argv)
    if args.warmup < 0 or args.repeats < 1:
        p.error('--warmup must be >= 0 and --repeats >= 1')
    if any(r < 32 for r in args.resolutions):
        p.error(f'--resolutions must be >= 32 (stride-32 backbones), got {args.resolutions}')
    if args.train_batch < 1 or any(b < 1 for b in args.infer_batches or [1]):
        p.error('batch sizes must be >= 1')
    if not 0 < args.memory_fraction <= 1:
        p.error('--memory-fraction must be in (0, 1]')
    if args.infer_batches is None:
        args.infer_batches = [1, 64] if args.device.startswith('cuda') else [1, 8]
    return args


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    from mmsola.utils import check_writable
    try:
        environment_info(args.device)  # validates the device early
        check_writable(args.out_dir, '--out-dir')
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    with fixed_threads(args.threads):
        rows = run(args)
    out = Path(args.out_dir)
    csv_path, png_path = out / f'{args.name}.csv', out / f'{args.name}.png'
    write_csv(rows, csv_path)
    plot(rows, png_path, args.reference or 'swin-t')
    print(summary_tables(rows))
    print(f'wrote {csv_path} and {png_path}')
    return rows


if __name__ == '__main__':
    main()
