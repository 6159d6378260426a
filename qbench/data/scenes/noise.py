"""Texture and sensor noise from + - * / and floor only (no transcendental functions), so the pixels do not
depend on a SIMD maths library."""

from __future__ import annotations

import numpy as np


def interp_grid(g: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear (smoothstep-eased) interpolation of grid ``g`` over an h x w image."""
    cy, cx = g.shape[0] - 1, g.shape[1] - 1
    ys = (np.arange(h) + 0.5) * (cy / h)
    i = np.minimum(ys.astype(np.int64), cy - 1)
    fy = ys - i
    fy = (fy * fy * (3.0 - 2.0 * fy))[:, None]
    rows = g[i] * (1.0 - fy) + g[i + 1] * fy
    xs = (np.arange(w) + 0.5) * (cx / w)
    j = np.minimum(xs.astype(np.int64), cx - 1)
    fx = xs - j
    fx = fx * fx * (3.0 - 2.0 * fx)
    return (rows[:, j] * (1.0 - fx) + rows[:, j + 1] * fx).astype(np.float32)


def unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform noise with zero mean and unit variance (much cheaper than normal draws)."""
    u = rng.random(shape, dtype=np.float32)
    u -= np.float32(0.5)
    u *= np.float32(12.0**0.5)
    return u


def hash01(*ints: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) from integer arrays."""
    h = np.zeros(np.broadcast(*ints).shape, np.int64)
    for k, a in zip((73856093, 19349663, 83492791, 2654435761), ints):
        h = h ^ (np.asarray(a, np.int64) * k)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h >> 8) & 0xFFFF).astype(np.float32) / 65536.0
