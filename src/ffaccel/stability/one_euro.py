"""One Euro filter (Casiez, Roussel and Vogel, CHI 2012) for landmarks.

A first-order low-pass whose cutoff frequency rises with the filtered speed:
``cutoff = min_cutoff + beta * |dx/dt|``. Slow motion is smoothed hard, fast
motion passes with little lag. It is the usual baseline for landmark jitter;
ffaccel ships it as a documented alternative to ``TemporalSmoother`` with the
same ``update``/``reset`` contract. Here the speed is taken per landmark (the
norm of its 2-D velocity), so x and y of a point share one cutoff.
"""

from __future__ import annotations

import numpy as np

from ffaccel._checks import as_points, as_timestamp, positive

__all__ = ["OneEuroFilter"]


def _smoothing_factor(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """EMA gain of a first-order low-pass with ``cutoff`` Hz over ``dt`` seconds."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter for (N, 2) landmarks (causal).

    Args:
        min_cutoff: cutoff frequency at rest, in Hz (> 0). Lower = smoother.
        beta: speed coefficient, in 1/px (>= 0). Higher = less lag when moving.
        d_cutoff: cutoff of the speed estimate, in Hz (> 0).
        freq: frame rate in Hz used when no ``timestamp`` is given (> 0).

    Shapes: ``points`` is (N, 2) in pixels; the output is (N, 2) float64.
    State: (N, 2) float32 positions, (N, 2) float16 speeds (px/s; 11
    significant bits are plenty for a cutoff) and the last time: 824 B at
    N = 68, inside the 1 KB per-face budget.

    Example:
        >>> import numpy as np
        >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.01)
        >>> _ = f.update(np.zeros((5, 2)))
        >>> f.update(np.ones((5, 2))).shape
        (5, 2)
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, freq: float = 30.0) -> None:
        self.min_cutoff = positive(min_cutoff, "min_cutoff")
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
            raise TypeError(f"beta must be a real number, got {type(beta).__name__}")
        if not np.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.beta = float(beta)
        self.d_cutoff = positive(d_cutoff, "d_cutoff")
        self.freq = positive(freq, "freq")
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next update starts a fresh track."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @property
    def state_nbytes(self) -> int:
        """Bytes of filter state (arrays plus the last time)."""
        return 8 + (0 if self._x is None else self._x.nbytes + self._dx.nbytes)

    def update(self, points: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Filter one frame of (N, 2) landmarks in pixels; returns (N, 2) float64.

        ``timestamp`` is in seconds (strictly increasing); None means 1/freq
        after the previous frame.
        """
        n = None if self._x is None else self._x.shape[0]
        z = as_points(points, "points", n=n)
        t = as_timestamp(timestamp)
        if self._x is None:
            self._x = z.astype(np.float32)
            self._dx = np.zeros_like(self._x, dtype=np.float16)
            self._t = 0.0 if t is None else t
            return z.copy()
        if t is None:
            t = self._t + 1.0 / self.freq
        dt = t - self._t
        if dt <= 0:
            raise ValueError(f"timestamp must increase, got {t} after {self._t}")
        x_prev = self._x.astype(np.float64)
        dx = (z - x_prev) / dt
        a_d = _smoothing_factor(dt, self.d_cutoff)
        dx_hat = self._dx.astype(np.float64) + a_d * (dx - self._dx.astype(np.float64))
        speed = np.hypot(dx_hat[:, 0], dx_hat[:, 1])
        a = _smoothing_factor(dt, self.min_cutoff + self.beta * speed)[:, None]
        x_hat = x_prev + a * (z - x_prev)
        self._x = x_hat.astype(np.float32)
        # float16 tops out at 65504: clip so a huge jump cannot store inf (and then NaN forever).
        self._dx = np.clip(dx_hat, -6.5e4, 6.5e4).astype(np.float16)
        self._t = t
        return x_hat
