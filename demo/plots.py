"""The demo's pictures: the training curve and an image / ground truth / prediction grid.

matplotlib (Agg backend) is imported inside the functions, so importing this module is cheap.
"""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmsola.errors import ArgumentError
from .classes import UNLABELLED_COLOUR


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def read_scalars(path: Union[str, Path]) -> Dict[str, List]:
    """mmengine's ``vis_data/scalars.json`` (one JSON object a line) as
    ``{'loss': [(step, value), ...], 'mIoU': [(step, value), ...]}``."""
    series = {'loss': [], 'mIoU': []}
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        for key in series:
            if key in record:
                series[key].append((int(record['step']), float(record[key])))
    if not series['loss']:
        raise ArgumentError(f'{path} holds no training loss: was the run logged?')
    return series


def plot_training_curve(scalars: Union[str, Path], out_png: Union[str, Path],
                        trivial_miou: Optional[float] = None) -> Path:
    """Loss (left) and validation mIoU (right, percent) against iteration, as a PNG."""
    series = read_scalars(scalars)
    plt = _pyplot()
    fig, (ax_loss, ax_miou) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps, loss = zip(*series['loss'])
    ax_loss.plot(steps, loss, color='tab:blue')
    ax_loss.set(xlabel='iteration', ylabel='training loss (decode + aux)', ylim=(0, None),
                title='loss')
    if series['mIoU']:
        steps, miou = zip(*series['mIoU'])
        ax_miou.plot(steps, miou, 'o-', color='tab:green', label='UperNet-SoLA')
    if trivial_miou is not None:
        ax_miou.axhline(trivial_miou, ls='--', color='grey',
                        label=f'most frequent class ({trivial_miou:.1f})')
    ax_miou.set(xlabel='iteration', ylabel='mIoU (%)', ylim=(0, 100), title='validation mIoU')
    ax_miou.legend(loc='best')
    for ax in (ax_loss, ax_miou):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def colourise(label: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) class indices (255 = ignored) -> (H, W, 3) uint8 RGB."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = UNLABELLED_COLOUR
    lut[:len(palette)] = palette
    return lut[label.astype(np.int64).clip(0, 255)]


def plot_prediction_grid(samples: Sequence[Dict], classes: Sequence[str],
                         palette: Sequence[Sequence[int]], out_png: Union[str, Path],
                         title: str = '') -> Path:
    """One row per sample (dicts with ``img_path``, ``gt``, ``pred``): image, ground truth,
    prediction; a legend of the class colours (and 'unlabelled') below."""
    from matplotlib.patches import Patch
    from PIL import Image
    if not samples:
        raise ArgumentError('no samples to draw')
    plt = _pyplot()
    rows = len(samples)
    height = 2.65 * rows + 1.1  # inches: rows of 2.3" images + titles, the legend, the title
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, height), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.55 / height, bottom=0.6 / height,
                        wspace=0.05, hspace=0.35 / 2.3)
    for row, sample in zip(axes, samples):
        image = np.asarray(Image.open(sample['img_path']).convert('RGB'))
        pixels = sample['gt'] != 255
        acc = float(np.mean(sample['pred'][pixels] == sample['gt'][pixels])) * 100
        panels = (image, colourise(sample['gt'], palette), colourise(sample['pred'], palette))
        names = (Path(sample['img_path']).name, 'ground truth', f'prediction ({acc:.0f}% px)')
        for ax, panel, name in zip(row, panels, names):
            ax.imshow(panel, interpolation='nearest')
            ax.set_title(name, fontsize=9)
            ax.axis('off')
    handles = [Patch(color=np.asarray(c) / 255, label=n) for n, c in zip(classes, palette)]
    handles.append(Patch(color=np.asarray(UNLABELLED_COLOUR) / 255,
                         label='unlabelled (ignored)'))
    fig.legend(handles=handles, loc='lower center', ncol=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va='top')
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
