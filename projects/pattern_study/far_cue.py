"""The far-cue dataset: the class of a central object is set by a marker far away.

Every image shows a light-grey bar near the centre, vertical or horizontal, and coloured
marker bars near the corners. The object's class is a marker's colour (red, green, blue):

* ``markers=1`` (the pattern study's default): one vertical marker in a random corner; the
  object has its colour. Nothing near the object tells its class (it looks the same in every
  class) and the marker is about half the image width away, so the class is only known to a
  backbone that carries the marker's colour across the image.
* ``markers=2``: a vertical and a horizontal marker in two corners, two different colours;
  the object has the colour of the marker with **its orientation**: a content-based lookup
  among distractors (shape-colour binding at the markers, matched against the object).

Labels (ADE20K layout, ``reduce_zero_label=True``): 1 background and the markers (only the
object is asked; mmseg's class-weighted loss cannot take ignored pixels), 2..4 the red / green
/ blue object. Images are PNG, so the colours stay exact. Written the way the demo's dataset is
(:func:`demo.synthetic_ade.build_atomically`: complete or absent, with a manifest of hashes).
"""
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from demo.synthetic_ade import MANIFEST, SPLITS, build_atomically, read_manifest, sha256
from demo.textures import smooth_noise
from mmsola.errors import ArgumentError, OutputExistsError

FAR_CUE_ROOT = 'data/sola_far_cue'
FAR_CUE_VERSION = 3  # 2: three shape markers (disc, square, triangle), a lookup by shape
FAR_CUE_CLASSES = ('background', 'red object', 'green object', 'blue object')
FAR_CUE_PALETTE = [[120, 120, 120], [220, 40, 40], [40, 190, 60], [50, 80, 230]]
FAR_CUE_METAINFO = dict(classes=FAR_CUE_CLASSES, palette=FAR_CUE_PALETTE)
COLOURS = np.array(FAR_CUE_PALETTE[1:], np.float32)  # the markers' colours, class order
MARKER_COUNTS = (1, 2)


def _check_markers(markers: int) -> None:
    if markers not in MARKER_COUNTS:
        raise ArgumentError(f'markers must be one of {MARKER_COUNTS}, got {markers!r}')


def bar_mask(y: np.ndarray, x: np.ndarray, cy: float, cx: float, half_length: float,
             half_width: float, vertical: bool) -> np.ndarray:
    """(H, W) bool mask of an axis-aligned bar centred at (cy, cx)."""
    half_y, half_x = (half_length, half_width) if vertical else (half_width, half_length)
    return (np.abs(y - cy) <= half_y) & (np.abs(x - cx) <= half_x)


def render_far_cue(rng: np.random.Generator, size: int,
                   markers: int = 1) -> Tuple[np.ndarray, np.ndarray, int]:
    """One image: (size, size, 3) uint8 RGB, (size, size) uint8 label, and the object's class
    index (0 red, 1 green, 2 blue). ``markers``: 1 or 2 (module docstring)."""
    _check_markers(markers)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    grey = rng.uniform(95, 150) + 18 * _smooth(rng, size, size / 8) + rng.normal(0, 5, (size, size))
    image = np.repeat(grey[..., None], 3, axis=2)
    label = np.ones((size, size), np.uint8)  # background, markers included

    colours = rng.permutation(3)[:markers]  # the vertical marker's, then the horizontal's
    corners = rng.permutation(4)[:markers]
    for colour, corner, vertical in zip(colours, corners, (True, False)):
        row, col = divmod(int(corner), 2)
        cy = row * (size - 1) + (1 - 2 * row) * size * rng.uniform(0.15, 0.2)
        cx = col * (size - 1) + (1 - 2 * col) * size * rng.uniform(0.15, 0.2)
        half_length = size * 0.14 * rng.uniform(0.9, 1.1)
        mask = bar_mask(y, x, cy, cx, half_length, size * 0.049, vertical)
        image[mask] = COLOURS[colour] + rng.uniform(-15, 15, 3) + \
            rng.normal(0, 6, (int(mask.sum()), 3))

    vertical = bool(rng.integers(2))
    cy, cx = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    mask = bar_mask(y, x, cy, cx, size * rng.uniform(0.2, 0.24), size * rng.uniform(0.07, 0.09),
                    vertical)
    image[mask] = rng.uniform(200, 235) + rng.normal(0, 6, (int(mask.sum()), 1))
    cls = int(colours[0] if vertical or markers == 1 else colours[1])
    label[mask] = 2 + cls
    image = image * rng.uniform(0.9, 1.1)  # global brightness jitter
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label, cls


def _smooth(rng, size: int, cell: float) -> np.ndarray:
    return smooth_noise(rng, size, size, cell)


def _write(tmp: Path, seed: int, sizes: Dict[str, int], image_size: int,
           markers: int) -> dict:
    from PIL import Image
    hashes, counts = {}, {}
    for split, num in sizes.items():
        (tmp / 'images' / split).mkdir(parents=True)
        (tmp / 'annotations' / split).mkdir(parents=True)
        counts[split] = [0, 0, 0]
        for i in range(num):
            image, label, cls = render_far_cue(np.random.default_rng([seed, SPLITS[split], i]),
                                               image_size, markers)
            counts[split][cls] += 1
            stem = f'far_cue_{split[:5]}_{i + 1:06d}'
            for sub, array in (('images', image), ('annotations', label)):
                path = tmp / sub / split / f'{stem}.png'
                Image.fromarray(array).save(path, format='PNG', compress_level=6)
                hashes[path.relative_to(tmp).as_posix()] = sha256(path)
    return dict(generator=f'far_cue/{FAR_CUE_VERSION}', seed=seed, image_size=image_size,
                markers=markers, num_train=sizes['training'], num_val=sizes['validation'],
                classes=list(FAR_CUE_CLASSES), objects_per_class=counts, sha256=hashes)


def ensure_far_cue_dataset(root: Union[str, Path] = FAR_CUE_ROOT, seed: int = 0,
                           num_train: int = 2000, num_val: int = 200,
                           image_size: int = 64, markers: int = 1) -> Tuple[Path, bool]:
    """Reuse the far-cue dataset at ``root`` if it was built with these settings, else build
    it. Returns ``(root, built)``; a ``root`` holding something else is an error."""
    root = Path(root)
    for name, value, low in (('num_train', num_train, 1), ('num_val', num_val, 1),
                             ('image_size', image_size, 32)):
        if int(value) != value or value < low:
            raise ArgumentError(f'{name} must be an integer >= {low}, got {value!r}')
    _check_markers(markers)
    wanted = dict(generator=f'far_cue/{FAR_CUE_VERSION}', seed=seed, num_train=num_train,
                  num_val=num_val, image_size=image_size, markers=markers)
    manifest = read_manifest(root)
    if manifest is None:
        if root.exists():
            raise OutputExistsError(f'{root} exists but holds no {MANIFEST}; delete it to have '
                                  'it rebuilt, or pass another data root')
        print_log(f'building the far-cue dataset at {root} ({num_train} + {num_val} images)',
                  'current')
        return build_atomically(root, lambda tmp: _write(
            tmp, seed, {'training': num_train, 'validation': num_val}, image_size, markers)), True
    diff = {k: (manifest.get(k), v) for k, v in wanted.items() if manifest.get(k) != v}
    if diff:
        text = ', '.join(f'{k}: {old} there, {new} asked' for k, (old, new) in diff.items())
        raise ArgumentError(f'the dataset at {root} was built with other settings ({text}); '
                         'delete it to rebuild, or pass another data root')
    return root, False
