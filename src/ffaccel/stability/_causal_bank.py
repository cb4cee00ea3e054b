"""Causal bank of steady-state constant-velocity Kalman (alpha-beta) filters.

Level j is the steady-state Kalman filter of the constant-velocity model with
piecewise-constant white acceleration of variance ``q = LAMBDA[j]^2 * r``
(``r`` the measurement-noise variance); its gains are Kalata's closed form for
the tracking index ``LAMBDA[j]``. All levels run side by side on every channel.

Per frame and channel the output level is chosen by the Intersection of
Confidence Intervals rule, as offline (``_bank``): the smoothest level whose
estimate lies within ``GAMMA`` standard deviations (steady-state output noise
of that level) of every lighter level's estimate. Smoother levels that were
rejected are re-started from the chosen level's state, so after a fast move
they are back in step at once. The level used may get lighter at once but
smoother by at most ``RISE`` levels per frame, and the output blends the two
nearest levels: a level that jumps from frame to frame would be jitter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAMBDA", "CausalBank"]

LAMBDA = 10.0 ** np.arange(-4.0, 1.01, 0.5)  # tracking index, smoothest first
GAMMA = 2.0
RISE = 0.25


def _gains(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    root = np.sqrt(lam * lam + 8.0 * lam)
    alpha = -(lam * lam + 8.0 * lam - (lam + 4.0) * root) / 8.0
    beta = (lam * lam + 4.0 * lam - lam * root) / 4.0
    return alpha, beta


ALPHA, BETA = _gains(LAMBDA)
# steady-state variance of the filtered position over the measurement-noise variance
NOISE_RATIO = (2 * ALPHA**2 + 2 * BETA - 3 * ALPHA * BETA) / (ALPHA * (4 - 2 * ALPHA - BETA))
_SD = np.sqrt(NOISE_RATIO)


class CausalBank:
    """State of the bank for C channels: positions and velocities (J, C), level (C,)."""

    def __init__(self, y: np.ndarray, lightest: np.ndarray) -> None:
        j = len(LAMBDA)
        self.x = np.repeat(y[None, :], j, axis=0)
        self.v = np.zeros_like(self.x)
        self.lightest = lightest.astype(np.float64)
        self.level = np.full(len(y), float(j - 1))  # start light, settle as evidence comes in
        self.count = 1
        self._rows = np.arange(len(y))

    def predict(self, dt: float) -> None:
        self.x = self.x + self.v * dt

    def update(self, y: np.ndarray, r: np.ndarray, dt: float) -> np.ndarray:
        """Predict over ``dt`` frames, update with ``y``; returns the output (C,)."""
        self.count += 1
        xp = self.x + self.v * dt
        nu = y[None, :] - xp
        # early frames: least-squares line gains (as a freshly started filter would)
        k = self.count
        a = np.maximum(ALPHA, 2.0 * (2 * k - 1) / (k * (k + 1)))[:, None]
        b = np.maximum(BETA, 6.0 / (k * (k + 1)))[:, None]
        x = xp + a * nu
        v = self.v + (b / dt) * nu
        sd = _SD[:, None] * np.sqrt(r)[None, :]
        lower = np.maximum.accumulate((x - GAMMA * sd)[::-1], axis=0)
        upper = np.minimum.accumulate((x + GAMMA * sd)[::-1], axis=0)
        run = np.cumprod(lower <= upper, axis=0).sum(axis=0)  # levels agreeing, from the lightest
        choice = (len(LAMBDA) - run).astype(np.float64)
        choice = np.maximum(choice, self.lightest)
        level = np.maximum(choice, self.level - RISE)
        self.level = level
        # re-start the rejected (smoother) levels from the chosen one
        ci = choice.astype(np.intp)
        rejected = np.arange(len(LAMBDA))[:, None] < ci[None, :]
        if rejected.any():
            x = np.where(rejected, x[ci, self._rows][None, :], x)
            v = np.where(rejected, v[ci, self._rows][None, :], v)
        self.x, self.v = x, v
        j0 = np.floor(level).astype(np.intp)
        j1 = np.minimum(j0 + 1, len(LAMBDA) - 1)
        frac = level - j0
        lo = x[j0, self._rows]
        hi = x[j1, self._rows]
        return lo + frac * (hi - lo)

    def q_over_r(self) -> np.ndarray:
        """(C,) process over measurement noise of the level in use (for a Kalman with the same model)."""
        lam = np.exp(np.interp(self.level, np.arange(len(LAMBDA)), np.log(LAMBDA)))
        return lam * lam
