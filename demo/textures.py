"""Procedural textures for the demo dataset: one family per class, float32 (H, W, 3) in 0..255.

Every function takes a ``numpy.random.Generator`` and the canvas size and returns a full-canvas
texture; the scene code pastes it through a class mask. Instances of a class vary (phase,
colour, scale of the pattern) but keep the class's own look. ``vehicle`` serves two classes,
car and boat, which therefore look the same locally.
"""
import numpy as np


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Value noise: a random grid of spacing ``cell`` pixels, bilinearly upsampled; (h, w) in
    about -1..1."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    y = np.arange(h, dtype=np.float32) / cell
    x = np.arange(w, dtype=np.float32) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def blocky_noise(rng: np.random.Generator, h: int, w: int, cell: tuple) -> np.ndarray:
    """Random values on cells of ``cell = (ch, cw)`` pixels (nearest upsampling); (h, w)."""
    ch, cw = cell
    grid = rng.uniform(-1, 1, (h // ch + 1, w // cw + 1)).astype(np.float32)
    return np.repeat(np.repeat(grid, ch, 0), cw, 1)[:h, :w]


def _colour(rng: np.random.Generator, base, spread: float = 12.) -> np.ndarray:
    return np.asarray(base, np.float32) + rng.uniform(-spread, spread, 3).astype(np.float32)


def _shade(colour: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """colour (3,) modulated by a (h, w) map of additive brightness -> (h, w, 3)."""
    return colour[None, None, :] + amount[..., None]


def sky(rng, h, w):
    """Vertical blue gradient with soft white clouds."""
    top, bottom = _colour(rng, (95, 150, 225)), _colour(rng, (175, 205, 240))
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    tex = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
    clouds = np.clip(smooth_noise(rng, h, w, rng.uniform(14, 24)) - 0.2, 0, None)
    return tex + clouds[..., None] * rng.uniform(60, 110)


def grass(rng, h, w):
    """Green with short vertical blades (noise stretched along y)."""
    blades = blocky_noise(rng, h, w, (int(rng.integers(3, 6)), 1))
    return _shade(_colour(rng, (75, 140, 50)), 32 * blades + 12 * smooth_noise(rng, h, w, 20))


def water(rng, h, w):
    """Dark teal with horizontal waves and glints."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period, phase = rng.uniform(4, 7), rng.uniform(0, 2 * np.pi)
    waves = np.sin(2 * np.pi * (y / period + 0.15 * np.sin(x / rng.uniform(6, 12))) + phase)
    glints = (rng.random((h, w)) > 0.985).astype(np.float32)
    return _shade(_colour(rng, (40, 95, 135)), 24 * waves + 90 * glints)


def leaves(rng, h, w):
    """Tree crown: green (close to grass) in irregular spots instead of blades."""
    spots = blocky_noise(rng, h, w, (3, 3)) + 0.6 * blocky_noise(rng, h, w, (2, 2))
    return _shade(_colour(rng, (45, 115, 45)), 30 * spots)


def bark(rng, h, w):
    """Tree trunk: brown with vertical streaks."""
    return _shade(_colour(rng, (105, 70, 40)), 20 * blocky_noise(rng, h, w, (h, 2)))


def bricks(rng, h, w):
    """House wall: brick courses with light mortar joints; each brick its own shade."""
    bh, bw = int(rng.integers(3, 5)), int(rng.integers(6, 10))
    y, x = np.mgrid[0:h, 0:w]
    row = y // bh
    xs = x + (row % 2) * (bw // 2)
    shade = blocky_noise(rng, h + bh, w + 2 * bw, (1, 1))[row, xs // bw]
    tex = _shade(_colour(rng, (170, 75, 55)), 22 * shade)
    mortar = (y % bh == 0) | (xs % bw == 0)
    tex[mortar] = _colour(rng, (205, 195, 175), 6)
    return tex


def roof(rng, h, w):
    """House roof: dark brown with diagonal tiles."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    stripes = np.sign(np.sin(2 * np.pi * (x + y) / rng.uniform(4, 6)))
    return _shade(_colour(rng, (95, 50, 40)), 18 * stripes)


def stone(rng, h, w):
    """Rock: grey with per-pixel speckle and soft shading."""
    speckle = rng.uniform(-1, 1, (h, w)).astype(np.float32)
    return _shade(_colour(rng, (128, 122, 116), 8),
                  28 * speckle + 20 * smooth_noise(rng, h, w, 10))


def vehicle(rng, h, w):
    """Car and boat alike: yellow body with a dark blue stripe every few rows."""
    y = np.arange(h, dtype=np.float32)[:, None]
    period = rng.uniform(7, 10)
    band = ((y + rng.uniform(0, period)) % period < 2).astype(np.float32)
    body = _shade(_colour(rng, (225, 185, 40)), 10 * smooth_noise(rng, h, w, 6))
    return body * (1 - band[..., None]) + _colour(rng, (30, 40, 110), 6) * band[..., None]


def cabin(rng, h, w):
    """Car and boat alike: the cabin, dark glass with a light frame."""
    y, x = np.mgrid[0:h, 0:w]
    frame = (x % 6 < 1) | (y % 5 < 1)
    tex = _shade(_colour(rng, (50, 60, 75)), 12 * smooth_noise(rng, h, w, 4))
    tex[frame] = _colour(rng, (220, 220, 215), 6)
    return tex


def clutter(rng, h, w):
    """Unlabelled clutter: a random flat colour with mild noise."""
    return _shade(rng.uniform(40, 220, 3).astype(np.float32),
                  15 * rng.uniform(-1, 1, (h, w)).astype(np.float32))
