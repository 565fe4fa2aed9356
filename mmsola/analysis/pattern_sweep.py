"""Cost of layer patterns (the engine behind ``tools/analysis/pattern_sweep.py``).

For every pattern, on the backbone alone at random init (seeded alike for every pattern),
:func:`measure_pattern` gives one row: params and FLOPs with the attention products counted
(:mod:`mmsola.analysis.flops`, checked against the hand count), the eval-mode latency under
``torch.no_grad`` (:mod:`mmsola.analysis.timing`) and r(0.5) / r(0.2), the ERF area ratios of
the last-stage map (:mod:`mmsola.analysis.erf`). :func:`sweep` measures a list of patterns,
one progress line each. Which patterns: :func:`sweep_patterns` (an arch's,
:func:`mmsola.analysis.patterns.collect_patterns`).
"""
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

from mmsola.analysis.erf import ImageSource, area_ratio, backbone_erf, final_point, normalise
from mmsola.analysis.flops import report_backbone
from mmsola.analysis.output import hms
from mmsola.analysis.patterns import collect_patterns
from mmsola.analysis.timing import synchronizer, time_callable
from mmsola.utils.backbone import BackboneFactory


def sweep_patterns(arch: str, patterns: Optional[Sequence[str]] = None,
                   softmax_blocks: Optional[Sequence[int]] = None, stage: int = 3,
                   base_pattern: Optional[str] = None) -> List[List[str]]:
    """The explicit ``patterns`` followed by the rule's (``softmax_blocks`` 'S' blocks evenly
    spaced in ``stage``, 1-based, of ``base_pattern``, default the arch's), without repeats.

    Raises:
        ValueError: a malformed pattern, a stage that does not exist, or nothing asked.
    """
    base = base_pattern or BackboneFactory(arch).default_pattern
    return collect_patterns(patterns, base, softmax_blocks, stage)


@dataclass
class SweepSettings:
    """How every pattern is measured: ``arch`` at ``size`` x ``size``, latency at ``batch``
    (``warmup`` untimed calls, the median of ``repeats``) on ``device``, init seed ``seed``."""
    arch: str = 'tiny'
    size: int = 512
    batch: int = 1
    warmup: int = 2
    repeats: int = 5
    device: str = 'cpu'
    seed: int = 0


def measure_pattern(pattern: List[str], images: ImageSource, env: Dict[str, object],
                    settings: SweepSettings) -> Dict[str, object]:
    """One CSV row: cost and r(0.5) of one pattern, then the settings and ``env`` (device,
    versions: :func:`mmsola.analysis.timing.environment_info`)."""
    s = settings
    size = (s.size, s.size)
    torch.manual_seed(s.seed)
    model = BackboneFactory(s.arch, drop_path_rate=0.).build(pattern).to(s.device)
    counted = report_backbone(model.eval(), size, num_classes=0)
    x = torch.randn(s.batch, 3, *size, device=s.device)
    with torch.no_grad():
        timing = time_callable(lambda: model(x), warmup=s.warmup, repeats=s.repeats,
                               sync=synchronizer(s.device))
    maps, used, _ = backbone_erf(model, images, [final_point(model)], s.device)
    data = normalise(maps[final_point(model)])
    return dict(
        layer_pattern='/'.join(pattern), softmax_blocks=sum(p.count('S') for p in pattern),
        softmax_per_stage='/'.join(str(p.count('S')) for p in pattern),
        params_M=round(counted['params'] / 1e6, 6),
        flops_G=round(counted['flops'] / 1e9, 6),
        softmax_attn_G=round(counted['attention']['softmax'] / 1e9, 6),
        linear_attn_G=round(counted['attention']['linear'] / 1e9, 6),
        latency_ms=round(timing['median_s'] * 1e3, 2),
        latency_min_ms=round(timing['min_s'] * 1e3, 2),
        images_per_s=round(s.batch / timing['median_s'], 2),
        r_0_5=round(area_ratio(data, 0.5)[1], 6), r_0_2=round(area_ratio(data, 0.2)[1], 6),
        arch=s.arch, input_size=s.size, batch=s.batch, warmup=s.warmup,
        repeats=timing['repeats'], erf_size=images.size, erf_images=images.description,
        erf_num_images=used, seed=s.seed, **env)


def sweep(patterns: Sequence[List[str]], images: ImageSource, env: Dict[str, object],
          settings: SweepSettings) -> List[Dict[str, object]]:
    """:func:`measure_pattern` of every pattern, in order; prints a progress line (cost,
    r(0.5), elapsed time and ETA) after each."""
    rows, start = [], time.perf_counter()
    for i, pattern in enumerate(patterns, 1):
        rows.append(measure_pattern(pattern, images, env, settings))
        spent = time.perf_counter() - start
        r = rows[-1]
        print(f"[{i}/{len(patterns)}] {r['layer_pattern']}: {r['params_M']:.2f} M, "
              f"{r['flops_G']:.2f} G, {r['latency_ms']} ms, r(0.5)={r['r_0_5']:.4f}  "
              f'(elapsed {hms(spent)}, ETA {hms(spent / i * (len(patterns) - i))})')
    return rows
