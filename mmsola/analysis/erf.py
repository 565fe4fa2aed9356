"""Effective receptive field (ERF), the RepLKNet recipe (Ding et al., CVPR 2022, its ``erf/``).

For an image x and a feature map F (B, C, h, w)::

    score = sum_c ReLU(F[:, c, h // 2, w // 2])      # the centre of the map
    A     = sum_rgb ReLU(d score / d x)               # (H, W): positive part, summed over RGB

A is averaged over the images (an image whose gradient holds NaN is skipped, as RepLKNet
does); the map shown and measured is ``log10(1 + A)`` normalised to max 1
(:func:`normalise`). The high-contribution area ratio r(t) (:func:`area_ratio`) is the area
of the smallest centred square that holds a share t of that map's total, as a share of the
image.

On SoLA-Vision the maps are the raw outputs of blocks (before the output LayerNorms):
:class:`BlockTaps` gives the output of any block of any stage from one forward pass, so the
ERF after each block of stages 3 and 4 costs one forward and one backward per block.
Images come from :class:`ImageSource`: a folder, the demo dataset, or random noise.
The models (``tools/analysis/erf.py``): :func:`model_list` pairs layer patterns with
checkpoints, :func:`load_weights` loads one into a backbone (built by
:class:`mmsola.utils.backbone.BackboneFactory`); :func:`result_rows` gives its CSV rows. The
pattern sweep (:mod:`mmsola.analysis.pattern_sweep`) measures r(0.5) with the same functions.
"""
import math
from pathlib import Path
from typing import Callable, Dict, Hashable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from mmsola.analysis.patterns import compare_patterns
from mmsola.errors import ArgumentError, InputNotFoundError
from mmsola.models import SoLAVision
from mmsola.utils.image_files import check_image

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
# ImageNet normalisation of mmpretrain / mmseg / mmdet configs (0-255 scale)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
# where the CPU demo (demo/ beside the package) builds its dataset
DEMO_ROOT = 'data/sola_demo'

FeatureFn = Callable[[torch.Tensor], Dict[Hashable, torch.Tensor]]


# ------------------------------------------------------------------------------ the recipe
def input_contributions(features: Dict[Hashable, torch.Tensor],
                        x: torch.Tensor) -> Dict[Hashable, torch.Tensor]:
    """Per feature map (B, C, h, w) computed from ``x`` (B, 3, H, W, requires grad): the
    contribution map A (H, W), summed over the batch."""
    out = {}
    keys = list(features)
    for i, key in enumerate(keys):
        f = features[key]
        score = F.relu(f[:, :, f.shape[2] // 2, f.shape[3] // 2]).sum()
        grad, = torch.autograd.grad(score, x, retain_graph=i < len(keys) - 1)
        out[key] = F.relu(grad).sum(dim=(0, 1)).detach()
    return out


def mean_contributions(feature_fn: FeatureFn, images, device='cpu',
                       progress: bool = False) -> Tuple[Dict[Hashable, torch.Tensor], int, int]:
    """Average contribution maps over ``images`` (an iterable of (B, 3, H, W) tensors).

    Returns ``(maps, used, skipped)``: the mean A per key of ``feature_fn``'s dict (float64,
    on the CPU) over the ``used`` images, and how many images were skipped for NaN.
    """
    total: Dict[Hashable, torch.Tensor] = {}
    used = skipped = 0
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(images))
    for batch in images:
        x = batch.to(device).requires_grad_(True)
        maps = input_contributions(feature_fn(x), x)
        if any(torch.isnan(m).any() for m in maps.values()):
            skipped += x.shape[0]
        else:
            for key, m in maps.items():
                total[key] = total.get(key, 0) + m.double().cpu()
            used += x.shape[0]
        if bar is not None:
            bar.update()
    if not used:
        raise RuntimeError(f'no usable image: all {skipped} gave NaN gradients')
    return {k: v / used for k, v in total.items()}, used, skipped


def normalise(contribution: torch.Tensor) -> torch.Tensor:
    """``log10(1 + A)`` scaled to max 1 (all zeros stay zeros)."""
    data = torch.log10(1 + contribution.double())
    top = data.max()
    return data / top if top > 0 else data


def area_ratio(data: torch.Tensor, t: float) -> Tuple[int, float]:
    """Smallest centred square holding a share ``t`` of ``data``'s total (H, W).

    The squares are ``data[H//2 - i : H//2 + i + 1, W//2 - i : W//2 + i + 1]`` for i = 0, 1, ...
    (clipped to the image). Returns ``(side, ratio)``: the side 2i + 1 and the square's
    area as a share of H * W; ``(0, nan)`` if the total is 0.
    """
    if not 0 < t <= 1:
        raise ArgumentError(f'threshold t must be in (0, 1], got {t}')
    h, w = data.shape
    total = float(data.sum())
    if total <= 0:
        return 0, math.nan
    cy, cx = h // 2, w // 2
    for i in range(max(h, w)):
        y0, y1, x0, x1 = max(cy - i, 0), min(cy + i + 1, h), max(cx - i, 0), min(cx + i + 1, w)
        if float(data[y0:y1, x0:x1].sum()) >= t * total * (1 - 1e-12):
            return 2 * i + 1, (y1 - y0) * (x1 - x0) / (h * w)
    return 2 * max(h, w) - 1, 1.0


def area_ratios(data: torch.Tensor,
                thresholds: Sequence[float] = THRESHOLDS) -> Dict[float, float]:
    """r(t) for each threshold: the area ratio of :func:`area_ratio`."""
    return {t: area_ratio(data, t)[1] for t in thresholds}


# -------------------------------------------------------------------- SoLA-Vision features
class _Stop(Exception):
    """Raised by the last tap to end the forward pass early."""


def _block_map(block: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """A block's output as a (B, C, h, w) map: tokens (B, N, C) of the grid ``hw`` passed to
    the block, or a channels-last map (B, h, w, C)."""
    if output.dim() == 3:
        hw = args[1] if len(args) > 1 else None
        if hw is None:
            raise RuntimeError(f'{type(block).__name__} output is tokens {tuple(output.shape)} '
                               'but no (h, w) grid reached the block')
        b, n, c = output.shape
        return output.transpose(1, 2).reshape(b, c, int(hw[0]), int(hw[1]))
    if output.dim() == 4:
        return output.permute(0, 3, 1, 2)
    raise RuntimeError(f'unexpected {type(block).__name__} output of shape '
                       f'{tuple(output.shape)}')


class BlockTaps:
    """``taps(x) -> {(stage, block): (B, C, h, w)}``: block outputs of a SoLAVision.

    Args:
        backbone: the SoLAVision (use it in eval mode).
        points: (stage, block) pairs, 0-based (stage 2 is the paper's stage 3); the forward
            pass stops right after the last of them.
    """

    def __init__(self, backbone: nn.Module, points: Sequence[Tuple[int, int]]):
        if not points:
            raise ArgumentError('no (stage, block) point to tap')
        for s, b in points:
            if not (0 <= s < len(backbone.stages) and 0 <= b < len(backbone.stages[s].blocks)):
                raise ArgumentError(f'no block {b} in stage {s}: the depths are '
                                 f'{[len(st.blocks) for st in backbone.stages]} (0-based)')
        self.backbone = backbone
        self.points = sorted(set(points))

    def __call__(self, x: torch.Tensor) -> Dict[Tuple[int, int], torch.Tensor]:
        captured = {}
        last = self.points[-1]

        def tap(point, module, args, output):
            captured[point] = _block_map(module, args, output)
            if point == last:
                raise _Stop

        handles = [self.backbone.stages[s].blocks[b].register_forward_hook(
            lambda m, a, o, p=(s, b): tap(p, m, a, o)) for s, b in self.points]
        try:
            self.backbone(x)
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return captured


def final_point(backbone: nn.Module) -> Tuple[int, int]:
    """The last block of the last stage: its output is the last-stage map."""
    return len(backbone.stages) - 1, len(backbone.stages[-1].blocks) - 1


def depth_points(backbone: nn.Module, stages: Sequence[int] = (2, 3)) -> List[Tuple[int, int]]:
    """Every block of ``stages`` (0-based; default the paper's stages 3 and 4)."""
    return [(s, b) for s in stages for b in range(len(backbone.stages[s].blocks))]


def block_depth(backbone: nn.Module, point: Tuple[int, int]) -> int:
    """Blocks from the input up to and including ``point`` (1-based)."""
    s, b = point
    return sum(len(st.blocks) for st in backbone.stages[:s]) + b + 1


def backbone_erf(backbone: nn.Module, images, points: Optional[Sequence[Tuple[int, int]]] = None,
                 device='cpu', progress: bool = False):
    """ERF maps of a SoLAVision at ``points`` (default: the last-stage map).

    Returns ``(maps, used, skipped)`` as :func:`mean_contributions`, keyed by (stage, block).
    """
    backbone = backbone.to(device).eval()
    taps = BlockTaps(backbone, points or [final_point(backbone)])
    return mean_contributions(taps, images, device, progress)


# ---------------------------------------------------------------------------------- images
class ImageSource:
    """Re-iterable images for the ERF, each a normalised (1, 3, size, size) tensor.

    Args:
        images: a folder of images (sorted by name, the first ``num_images``), ``'demo'``
            (the validation images of the demo dataset at ``demo_root``, default
            ``data/sola_demo``, which ``python -m demo.make_dataset`` builds)
            or None / ``'noise'`` (standard normal noise in the normalised space, one seeded
            draw per image).
        num_images: how many images (fewer if a folder holds fewer).
        size: images are resized (bicubic) to size x size.
        seed: the noise seed.
    """

    def __init__(self, images: Optional[str], num_images: int, size: int, seed: int = 0,
                 demo_root: Optional[str] = None):
        if num_images < 1 or size < 1:
            raise ArgumentError(f'need num_images >= 1 and size >= 1, got {num_images}, {size}')
        self.size, self.seed = size, seed
        self.files: Optional[List[Path]] = None
        if images in (None, 'noise'):
            self.num = num_images
            self.description = f'random noise N(0, 1), seed {seed}'
            return
        if images == 'demo':
            folder = self._demo_folder(demo_root)
            what = f'demo images {folder}'
        else:
            folder = Path(images)
            if not folder.is_dir():
                raise InputNotFoundError(f'image folder {images!r} does not exist; give a folder '
                                        "of images, 'demo' for the demo images, or nothing "
                                        'for random noise')
            what = f'images of {folder}'
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputNotFoundError(f'{folder} holds no image ({", ".join(IMAGE_SUFFIXES)})')
        self.files = files[:num_images]
        for path in self.files:  # a broken file fails here, before any model runs
            check_image(str(path))
        self.num = len(self.files)
        self.description = f'{what} ({self.num} of {len(files)})'

    @staticmethod
    def _demo_folder(root: Optional[str]) -> Path:
        root = Path(root or DEMO_ROOT)
        folder = root / 'images' / 'validation'
        if not folder.is_dir():
            raise InputNotFoundError(f"--images demo: no demo dataset at {root}; build it from "
                                    'the repository root with `python -m demo.make_dataset`')
        return folder

    def __len__(self) -> int:
        return self.num

    def _load(self, path: Path) -> torch.Tensor:
        from PIL import Image
        with Image.open(path) as img:
            img = img.convert('RGB').resize((self.size, self.size), Image.BICUBIC)
            data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        x = data.reshape(self.size, self.size, 3).permute(2, 0, 1).float()
        x = (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
        return x.unsqueeze(0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.files is not None:
            for path in self.files:
                yield self._load(path)
            return
        for i in range(self.num):
            gen = torch.Generator().manual_seed(self.seed * 100003 + i)
            yield torch.randn(1, 3, self.size, self.size, generator=gen)


# ---------------------------------------------------------------------------------- models
def read_weights(checkpoints: Sequence[Optional[str]]) -> Dict[str, dict]:
    """``{path: checkpoint dict}`` of the checkpoints to load, read before anything is
    written (a missing, damaged or refused file raises ``CheckpointError``)."""
    from mmsola.utils import load_checkpoint_dict
    return {c: load_checkpoint_dict(c, '--checkpoint') for c in dict.fromkeys(checkpoints) if c}


def load_weights(backbone: SoLAVision, ckpt: dict, checkpoint: str) -> None:
    """Load a backbone, classifier, segmentor or detector checkpoint (``backbone.`` keys are
    used when present) read from ``checkpoint``."""
    from mmsola.checkpoint import state_dict_of
    from mmsola.models.backbones.pretrained import load_pretrained
    keys = state_dict_of(ckpt, checkpoint)
    prefix = 'backbone.' if any(str(k).startswith('backbone.') for k in keys) else None
    load_pretrained(backbone, ckpt, prefix=prefix, name=checkpoint)


def model_list(layer_patterns: Optional[Sequence[str]], compare: bool,
               checkpoints: Optional[Sequence[str]], default_pattern: Sequence[str]
               ) -> List[Tuple[str, Optional[List[str]], Optional[str]]]:
    """(label, pattern or None for the default, checkpoint or None) per model to analyse.

    Args:
        layer_patterns: ``'L/LS/...'`` strings, one model each; with ``compare`` at most one,
            the hybrid to compare (default: ``default_pattern``).
        compare: the hybrid with its all-linear and all-softmax siblings.
        checkpoints: one for every model, or one per model in order ('none': random init).
    """
    patterns = [s.split('/') for s in layer_patterns or []]
    if compare:
        base = patterns[0] if patterns else default_pattern
        models = list(compare_patterns(base).items())
    elif patterns:
        models = [('/'.join(p), p) for p in patterns]
    else:
        models = [('default', None)]
    ckpts = checkpoints or [None]
    if len(ckpts) == 1:
        ckpts = ckpts * len(models)
    if len(ckpts) != len(models):
        raise ArgumentError(f'{len(ckpts)} checkpoints for {len(models)} models '
                         f'({[m[0] for m in models]}): give one, or one per model in that '
                         "order ('none' for random init)")
    return [(label, p, None if c in (None, 'none') else c)
            for (label, p), c in zip(models, ckpts)]


def result_rows(label: str, backbone: SoLAVision, maps: Dict, meta: Dict,
                thresholds: Sequence[float]) -> List[Dict[str, object]]:
    """One row per map of ``maps`` (keyed by 0-based (stage, block)): the model, its pattern,
    ``meta``, the 1-based stage and block, depth, kind and r(t) / square side per t."""
    rows = []
    for (s, b), contribution in sorted(maps.items()):
        data = normalise(contribution)
        row = dict(model=label, layer_pattern='/'.join(backbone.layer_pattern), **meta,
                   stage=s + 1, block=b + 1, depth=block_depth(backbone, (s, b)),
                   kind=backbone.layer_pattern[s][b])
        for t in thresholds:
            side, ratio = area_ratio(data, t)
            row[f'r_{t:g}'] = round(ratio, 6)
            row[f'side_{t:g}'] = side
        rows.append(row)
    return rows
