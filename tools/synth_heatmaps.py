"""Synthetic landmark heatmaps with known sub-pixel peaks (numpy only).

Used to train the "fhr" refiner (``tools/fhr_train.py``), by its tests
(tests/stability/test_stability_subpixel.py) and by benchmarks/bench_stability.py. Coordinates follow ``refine_heatmap_landmarks``: x is the column,
y the row, integer values are pixel centres.

Each heatmap is one Gaussian peak with random centre, per-axis sigma in
[0.8, 2.5] px, random orientation (anisotropy), amplitude in [0.3, 1.0], and
with some probability: a neighbouring weaker peak 2.5-7 px away, additive
Gaussian noise, a centre at or just past the border (truncation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_heatmaps"]


def synthetic_heatmaps(count: int, rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``count`` heatmaps (count, size, size) float32 and their true (count, 2) peaks (x, y)."""
    centre = rng.uniform(2.0, size - 3.0, (count, 2))
    near_border = rng.random(count) < 0.15
    edge = rng.uniform(-1.0, 1.5, count)  # 0 is the centre of the first pixel
    axis = rng.integers(0, 2, count)
    far = rng.random(count) < 0.5
    edge = np.where(far, size - 1 - edge, edge)
    centre[near_border, axis[near_border]] = edge[near_border]
    sig = rng.uniform(0.8, 2.5, (count, 2))
    ang = rng.uniform(0.0, np.pi, count)
    amp = rng.uniform(0.3, 1.0, count)
    grid = np.arange(size, dtype=np.float64)
    xx = grid[None, None, :]
    yy = grid[None, :, None]

    def gauss(cx, cy, sx, sy, th, a):
        c, s = np.cos(th)[:, None, None], np.sin(th)[:, None, None]
        dx = xx - cx[:, None, None]
        dy = yy - cy[:, None, None]
        u = c * dx + s * dy
        v = -s * dx + c * dy
        return a[:, None, None] * np.exp(-0.5 * ((u / sx[:, None, None]) ** 2 + (v / sy[:, None, None]) ** 2))

    maps = gauss(centre[:, 0], centre[:, 1], sig[:, 0], sig[:, 1], ang, amp)
    has_nb = rng.random(count) < 0.3
    dist = rng.uniform(2.5, 7.0, count)
    dang = rng.uniform(0.0, 2.0 * np.pi, count)
    nb_amp = amp * rng.uniform(0.2, 0.7, count) * has_nb
    nb_sig = rng.uniform(0.8, 2.5, count)
    maps += gauss(centre[:, 0] + dist * np.cos(dang), centre[:, 1] + dist * np.sin(dang), nb_sig, nb_sig, ang, nb_amp)
    noise = rng.uniform(0.0, 0.05, count) * amp * (rng.random(count) < 0.7)
    maps += noise[:, None, None] * rng.standard_normal(maps.shape)
    return maps.astype(np.float32), centre
