"""The streaming modes' noise level: ``LandmarkStabilizer``'s running estimate of each
channel's detector noise variance ``r`` (face units^2), frame by frame.

``r`` is a running median of |second difference| of each channel (the median of the first 5,
then a multiplicative step up or down each frame), in units of a noise std: white noise of
std s gives second differences of std s sqrt 6. A second difference also holds the head's
acceleration, which a shaking or nodding head makes larger than a precise detector's noise:
the causal mode then took it for noise and smoothed too much (the face trailed the head).
So in the causal mode, on a channel where the adaptive filter sees motion (its acceleration
level ``a2`` or its bias boost above 0), ``r`` is at most ``D4_GAIN`` times the same median
over fourth differences (1, -4, 6, -4, 1; white noise gives s sqrt 70, scaled to the second's
units), which smooth motion leaves almost untouched. At rest the second differences alone, as
before: the minimum of two noisy levels is biased low, and at rest it cost jitter
(docs/results/stability_history_4.md has the variants and their figures).
"""

from __future__ import annotations

import numpy as np

__all__ = ["D4_GAIN", "MAD", "R_FLOOR", "R_PRIOR", "UP", "DOWN", "noise", "reset"]

MAD = 0.6745 * np.sqrt(6.0)  # median |second difference| per unit noise std
R_PRIOR = 0.02**2  # face units^2, used until three frames give a noise estimate
R_FLOOR = 1e-4**2
D4_GAIN = 1.6**2  # in motion, r at most this times the fourth differences' level (0: off)
_D4_SCALE = float(np.sqrt(6.0 / 70.0))  # |fourth difference| to the second's units
_ETA = 0.08  # step of the running median (log scale)
UP, DOWN = (float(v) for v in np.exp(_ETA * np.array([1.0, -1.0])))  # its factors (numpy's exp, as per frame)


def reset(stab) -> None:
    """A new shot: ``stab``'s noise state and its last measured channel rows forgotten."""
    stab._last_y = stab._last_y2 = stab._last_y3 = stab._last_y4 = None
    stab._mad, stab._mad_n, stab._mad_seed = None, 0, []
    stab._mad4, stab._mad4_n, stab._mad4_seed = None, 0, []


def _median_step(med: np.ndarray | None, seed: list, n: int, d: np.ndarray) -> tuple[np.ndarray, int]:
    """One step of the running median of ``d`` per channel: (median, count) after it."""
    if n < 5:
        seed.append(d)
        return np.median(np.array(seed), axis=0), n + 1
    return med * np.where(d > med, UP, DOWN), n + 1


def noise(stab, y: np.ndarray, consecutive: bool) -> np.ndarray:
    """``r`` (C,) for measured channel row ``y`` of ``stab`` (a ``LandmarkStabilizer``), whose
    last measured rows are ``_last_y`` .. ``_last_y4`` (None where the run is shorter);
    ``consecutive``: ``y`` directly follows ``_last_y``."""
    if consecutive and stab._last_y is not None and stab._last_y2 is not None:
        d = np.abs(y - 2.0 * stab._last_y + stab._last_y2)
        stab._mad, stab._mad_n = _median_step(stab._mad, stab._mad_seed, stab._mad_n, d)
        if D4_GAIN and not stab.lag and stab._last_y4 is not None:
            d4 = np.abs(y - 4.0 * stab._last_y + 6.0 * stab._last_y2 - 4.0 * stab._last_y3 + stab._last_y4) * _D4_SCALE
            stab._mad4, stab._mad4_n = _median_step(stab._mad4, stab._mad4_seed, stab._mad4_n, d4)
    if stab._mad is None:
        return np.full(y.shape, R_PRIOR)
    r = np.maximum((stab._mad / MAD) ** 2, R_FLOOR)
    if stab._mad4 is not None:  # (this shot's adaptive filter exists: four rows of it came first)
        bank = stab._bank
        moving = (bank.a2 > 0) | (bank.boost > 0)
        r = np.where(moving, np.maximum(np.minimum(r, D4_GAIN * (stab._mad4 / MAD) ** 2), R_FLOOR), r)
    return r
