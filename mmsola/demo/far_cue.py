"""The far-cue dataset: the class of a central object is set by a marker far away.

Every image shows a light-grey object near the centre, a disc, a square or a triangle, and
three coloured markers in three of the four corners: one disc, one square, one triangle, their
colours (red, green, blue) a random permutation. The object's class is the colour of the
marker that has **its shape**. So:

* nothing near the object tells its class: it looks the same in every class, and the nearest
  marker is about half the image width away;
* every image holds all three colours, so pooling "which colours are present" says nothing;
  the model has to bind shape to colour at the markers and match the object's shape against
  them, a content-based lookup among distractors (what softmax attention does in one layer;
  linear attention averages over all keys instead of selecting one).

Labels (ADE20K layout, ``reduce_zero_label=True``): 1 background, 2..4 the red / green / blue
object, 0 (ignored) the markers. Images are PNG, so the colours stay exact.
"""
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from .synthetic_ade import MANIFEST, SPLITS, _sha256, build_atomically, read_manifest

FAR_CUE_ROOT = 'data/sola_far_cue'
FAR_CUE_VERSION = 2
FAR_CUE_CLASSES = ('background', 'red object', 'green object', 'blue object')
FAR_CUE_PALETTE = [[120, 120, 120], [220, 40, 40], [40, 190, 60], [50, 80, 230]]
FAR_CUE_METAINFO = dict(classes=FAR_CUE_CLASSES, palette=FAR_CUE_PALETTE)
SHAPES = ('disc', 'square', 'triangle')
COLOURS = np.array(FAR_CUE_PALETTE[1:], np.float32)  # the markers' colours, class order


def shape_mask(shape: str, y: np.ndarray, x: np.ndarray, cy: float, cx: float,
               r: float) -> np.ndarray:
    """(H, W) bool mask of a disc / square / upward triangle of 'radius' r at (cy, cx)."""
    if shape == 'disc':
        return (y - cy)**2 + (x - cx)**2 <= r * r
    if shape == 'square':
        s = 0.85 * r  # about the disc's area
        return (np.abs(y - cy) <= s) & (np.abs(x - cx) <= s)
    if shape == 'triangle':
        top, bottom = cy - 1.15 * r, cy + 0.85 * r
        half = 1.2 * r * (y - top) / (bottom - top)
        return (y >= top) & (y <= bottom) & (np.abs(x - cx) <= half)
    raise ValueError(f'shape must be one of {SHAPES}, got {shape!r}')


def render_far_cue(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """One image: (size, size, 3) uint8 RGB, (size, size) uint8 label, and the object's class
    index (0 red, 1 green, 2 blue)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    grey = rng.uniform(95, 150) + 18 * _smooth(rng, size, size / 8) + rng.normal(0, 5, (size, size))
    image = np.repeat(grey[..., None], 3, axis=2)
    label = np.ones((size, size), np.uint8)  # background

    colour_of_shape = rng.permutation(3)  # marker of SHAPES[i] has colour colour_of_shape[i]
    corners = rng.permutation(4)[:3]
    for i, shape in enumerate(SHAPES):
        cy, cx = divmod(int(corners[i]), 2)
        r = size * rng.uniform(0.075, 0.095)
        cy = (cy * (size - 1)) + (1 - 2 * cy) * size * rng.uniform(0.13, 0.2)
        cx = (cx * (size - 1)) + (1 - 2 * cx) * size * rng.uniform(0.13, 0.2)
        mask = shape_mask(shape, y, x, cy, cx, r)
        colour = COLOURS[colour_of_shape[i]] + rng.uniform(-15, 15, 3)
        image[mask] = colour + rng.normal(0, 6, (int(mask.sum()), 3))
        label[mask] = 0  # ignored: the markers are not what is asked

    which = int(rng.integers(3))
    cy, cx = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    mask = shape_mask(SHAPES[which], y, x, cy, cx, size * rng.uniform(0.16, 0.2))
    image[mask] = rng.uniform(200, 235) + rng.normal(0, 6, (int(mask.sum()), 1))
    cls = int(colour_of_shape[which])
    label[mask] = 2 + cls
    image = image * rng.uniform(0.9, 1.1)  # global brightness jitter
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label, cls


def _smooth(rng, size: int, cell: float) -> np.ndarray:
    from .textures import smooth_noise
    return smooth_noise(rng, size, size, cell)


def _write(tmp: Path, seed: int, sizes: Dict[str, int], image_size: int) -> dict:
    from PIL import Image
    hashes, counts = {}, {}
    for split, num in sizes.items():
        (tmp / 'images' / split).mkdir(parents=True)
        (tmp / 'annotations' / split).mkdir(parents=True)
        counts[split] = [0, 0, 0]
        for i in range(num):
            image, label, cls = render_far_cue(np.random.default_rng([seed, SPLITS[split], i]),
                                               image_size)
            counts[split][cls] += 1
            stem = f'far_cue_{split[:5]}_{i + 1:06d}'
            for sub, array in (('images', image), ('annotations', label)):
                path = tmp / sub / split / f'{stem}.png'
                Image.fromarray(array).save(path, format='PNG', compress_level=6)
                hashes[path.relative_to(tmp).as_posix()] = _sha256(path)
    return dict(generator=f'far_cue/{FAR_CUE_VERSION}', seed=seed, image_size=image_size,
                num_train=sizes['training'], num_val=sizes['validation'],
                classes=list(FAR_CUE_CLASSES), objects_per_class=counts, sha256=hashes)


def ensure_far_cue_dataset(root: Union[str, Path] = FAR_CUE_ROOT, seed: int = 0,
                           num_train: int = 1000, num_val: int = 200,
                           image_size: int = 64) -> Tuple[Path, bool]:
    """Reuse the far-cue dataset at ``root`` if it was built with these settings, else build
    it. Returns ``(root, built)``; a ``root`` holding something else is an error."""
    root = Path(root)
    for name, value, low in (('num_train', num_train, 1), ('num_val', num_val, 1),
                             ('image_size', image_size, 32)):
        if int(value) != value or value < low:
            raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
    wanted = dict(generator=f'far_cue/{FAR_CUE_VERSION}', seed=seed, num_train=num_train,
                  num_val=num_val, image_size=image_size)
    manifest = read_manifest(root)
    if manifest is None:
        if root.exists():
            raise FileExistsError(f'{root} exists but holds no {MANIFEST}; delete it to have '
                                  'it rebuilt, or pass another data root')
        print_log(f'building the far-cue dataset at {root} ({num_train} + {num_val} images)',
                  'current')
        return build_atomically(root, lambda tmp: _write(
            tmp, seed, {'training': num_train, 'validation': num_val}, image_size)), True
    diff = {k: (manifest.get(k), v) for k, v in wanted.items() if manifest.get(k) != v}
    if diff:
        text = ', '.join(f'{k}: {old} there, {new} asked' for k, (old, new) in diff.items())
        raise ValueError(f'the dataset at {root} was built with other settings ({text}); '
                         'delete it to rebuild, or pass another data root')
    return root, False
