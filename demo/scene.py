"""One synthetic outdoor scene: an image and its label map.

A sky above a tilted, wavy horizon, grass ('land' scenes) or water ('water' scenes) below;
unlabelled clutter; then trees, houses, rocks and vehicles of varied sizes standing on the
ground, overlapping in drawing order. A vehicle is a ``car`` in a land scene and a ``boat`` in
a water scene: both are drawn by the same code, so only the surroundings tell them apart.
"""
from typing import Callable, List, Sequence, Tuple

import numpy as np

from mmsola.errors import ArgumentError
from . import textures
from .classes import label_of

SCENES = ('land', 'water')
OBJECTS = ('tree', 'house', 'rock', 'vehicle')
MIN_VISIBLE = 0.004  # share of the image every required object must keep after occlusion

Part = Tuple[np.ndarray, Callable]  # (H, W) bool mask, texture function


class Canvas:
    """Pixel coordinates of an (h, w) image, shared by the shape functions."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.y, self.x = np.mgrid[0:h, 0:w].astype(np.float32)

    def ellipse(self, cx, cy, rx, ry) -> np.ndarray:
        return ((self.x - cx) / rx)**2 + ((self.y - cy) / ry)**2 <= 1

    def rect(self, x0, y0, x1, y1) -> np.ndarray:
        return (self.x >= x0) & (self.x < x1) & (self.y >= y0) & (self.y < y1)


def tree(rng, cv: Canvas, cx, base, s) -> List[Part]:
    r = 0.3 * s
    cy = base - s + r
    crown = np.zeros((cv.h, cv.w), bool)
    for dx, dy in rng.uniform(-0.45, 0.45, (3, 2)) * r:
        crown |= cv.ellipse(cx + dx, cy + dy, r * rng.uniform(0.8, 1.1), r * rng.uniform(0.8, 1))
    trunk = cv.rect(cx - 0.06 * s - 1, cy, cx + 0.06 * s + 1, base) & ~crown
    return [(crown, textures.leaves), (trunk, textures.bark)]


def house(rng, cv: Canvas, cx, base, s) -> List[Part]:
    w, h = s * rng.uniform(0.7, 1.1), s * rng.uniform(0.45, 0.65)
    top = base - h
    body = cv.rect(cx - w / 2, top, cx + w / 2, base)
    half = w / 2 + 0.08 * s
    rh = 0.35 * s
    roof = (cv.y < top) & (cv.y >= top - rh) & (np.abs(cv.x - cx) <= half * (cv.y - top + rh) / rh)
    return [(body, textures.bricks), (roof, textures.roof)]


def rock(rng, cv: Canvas, cx, base, s) -> List[Part]:
    r, cy = 0.45 * s, base - 0.3 * s
    angle = np.arctan2((cv.y - cy) / 0.7, cv.x - cx)
    radius = np.ones_like(angle)
    for k in (2, 3, 5):
        radius += rng.uniform(0.04, 0.12) * np.sin(k * angle + rng.uniform(0, 2 * np.pi))
    inside = np.hypot(cv.x - cx, (cv.y - cy) / 0.7) <= r * radius
    return [(inside, textures.stone)]


def vehicle(rng, cv: Canvas, cx, base, s) -> List[Part]:
    w, h = s, 0.3 * s * rng.uniform(0.9, 1.2)
    top = base - h
    body = cv.rect(cx - w / 2 + h / 2, top, cx + w / 2 - h / 2, base) \
        | cv.ellipse(cx - w / 2 + h / 2, top + h / 2, h / 2, h / 2) \
        | cv.ellipse(cx + w / 2 - h / 2, top + h / 2, h / 2, h / 2)
    cw, ch = 0.45 * w, 0.25 * s
    ox = cx + rng.uniform(-0.15, 0.15) * w
    cab = cv.rect(ox - cw / 2, top - ch, ox + cw / 2, top + 1) & ~body
    return [(body, textures.vehicle), (cab, textures.cabin)]


SHAPES = dict(tree=tree, house=house, rock=rock, vehicle=vehicle)


def render_scene(rng: np.random.Generator, size: int, scene: str,
                 required: Sequence[str] = ('vehicle', ),
                 max_tries: int = 20) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one scene.

    Args:
        rng: the image's own generator (the result depends on nothing else).
        size: image height and width.
        scene: 'land' (grass, cars) or 'water' (water, boats).
        required: objects (from ``OBJECTS``) that must stay visible (at least ``MIN_VISIBLE``
            of the image) after occlusion; the layout is redrawn until they do.

    Returns:
        image (size, size, 3) uint8 RGB and label (size, size) uint8 with the ADE20K id
        ``label_of(class)`` per pixel and 0 for unlabelled clutter.
    """
    if scene not in SCENES:
        raise ArgumentError(f'scene must be one of {SCENES}, got {scene!r}')
    cv = Canvas(size, size)
    for _ in range(max_tries):
        image, label, ok = _try_layout(rng, cv, scene, required)
        if ok:
            return image, label
    raise RuntimeError(f'no layout kept {required} visible in {max_tries} tries')


def _try_layout(rng, cv: Canvas, scene: str, required: Sequence[str]):
    size = cv.h
    ground_name = 'grass' if scene == 'land' else 'water'
    horizon = size * rng.uniform(0.3, 0.55) + rng.uniform(-0.15, 0.15) * (cv.x - size / 2) \
        + rng.uniform(0, 2) * np.sin(cv.x / rng.uniform(5, 12))
    is_sky = cv.y < horizon
    image = np.where(is_sky[..., None], textures.sky(rng, size, size),
                     getattr(textures, ground_name)(rng, size, size))
    label = np.where(is_sky, label_of('sky'), label_of(ground_name)).astype(np.uint8)

    for _ in range(rng.integers(0, 3)):  # unlabelled clutter, as ADE20K's label 0
        mask = cv.ellipse(*rng.uniform(0, size, 2), *rng.uniform(0.03, 0.1, 2) * size)
        image[mask] = textures.clutter(rng, size, size)[mask]
        label[mask] = 0

    extra = list(rng.choice(OBJECTS, int(rng.integers(1, 5))))
    names = extra + list(rng.permutation(list(required)))  # required ones drawn last
    owners = np.full((size, size), -1)
    for i, name in enumerate(names):
        s = float(np.exp(rng.uniform(np.log(0.12), np.log(0.5)))) * size
        cx = rng.uniform(-0.1, 1.1) * size
        ground = float(np.interp(cx, np.arange(size), horizon[0]))
        base = rng.uniform(ground + 0.1 * s, size + 0.1 * s)
        cls = name if name != 'vehicle' else ('car' if scene == 'land' else 'boat')
        for mask, texture in SHAPES[name](rng, cv, cx, base, s):
            image[mask] = texture(rng, size, size)[mask]
            label[mask] = label_of(cls)
            owners[mask] = i

    first_required = len(extra)
    visible = [np.mean(owners == i) for i in range(first_required, len(names))]
    ok = min(visible, default=1.) >= MIN_VISIBLE

    # photometric jitter of the whole image: brightness, white balance, sensor noise
    image = image * rng.uniform(0.85, 1.15) * rng.uniform(0.93, 1.07, 3)
    image = image + rng.normal(0, 4, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), label, ok
