"""Colour statistics and their temporal smoothing per face track (``ColorTransferState``).

Why: colour transfer re-estimates the source and target statistics every frame. Sensor
noise, a blink or a hand near the face moves them a little each frame and the pasted
face's colour flickers. The state low-passes the statistics (an exponential moving
average) and publishes a new value only when it has moved by more than a deadband, so
noise-sized wobble changes nothing while a real lighting change is followed within a
few frames. ``freeze()`` holds the published statistics as they are, which the
end-of-sequence guard uses in a clip's tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ffaccel import _checks

__all__ = ["ColorStats", "ColorTransferState"]


@dataclass(frozen=True)
class ColorStats:
    """Mask-weighted statistics of one crop, host float64.

    Attributes:
        mean: (3,) per-channel mean (Lab for reinhard_lab, BGR 0..255 otherwise).
        std: (3,) per-channel standard deviation, same units.
        cov: (3, 3) covariance (mkl only), or None.
    """

    mean: np.ndarray
    std: np.ndarray
    cov: np.ndarray | None = None

    def vector(self) -> np.ndarray:
        parts = [self.mean, self.std] + ([] if self.cov is None else [self.cov.ravel()])
        return np.concatenate(parts)

    @staticmethod
    def from_vector(v: np.ndarray, with_cov: bool) -> ColorStats:
        return ColorStats(v[0:3].copy(), v[3:6].copy(), v[6:15].reshape(3, 3).copy() if with_cov else None)


@dataclass
class _Track:
    method: str
    ema: np.ndarray
    published: np.ndarray
    frozen: bool = False
    frames: int = field(default=1)


class ColorTransferState:
    """Per-track EMA + deadband smoothing of :func:`ffaccel.color_transfer` statistics.

    For each track and each statistic component (means, stds, covariances of the
    source and the reference crop): ``ema += alpha * (new - ema)``; the published value
    becomes ``ema`` only when ``|ema - published| > deadband``, else stays. The first
    frame of a track publishes its statistics as they are.

    Args:
        alpha: EMA weight of the newest frame, 0 < alpha <= 1 (1: no smoothing).
        deadband: in the statistics' units (Lab units for reinhard_lab, 0..255 levels
            for linear_gain and mkl; covariances in squared units), >= 0.

    Example:
        >>> import numpy as np, ffaccel
        >>> state = ffaccel.ColorTransferState(alpha=0.2, deadband=0.5)
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.integers(90, 110, (32, 32, 3), dtype=np.uint8)
        >>> mask = np.ones((32, 32), np.float32)
        >>> out = ffaccel.color_transfer(ref, ref, mask, state=state, track=7)
        >>> state.tracks()
        [7]
        >>> state.freeze(); state.frozen(7)
        True
    """

    def __init__(self, alpha: float = 0.15, deadband: float = 0.5) -> None:
        self.alpha = _checks.real(alpha, "alpha", lo=0.0, lo_open=True, hi=1.0)
        self.deadband = _checks.real(deadband, "deadband", lo=0.0)
        self._tracks: dict[Any, _Track] = {}

    def update(self, track: Any, method: str, src: ColorStats, ref: ColorStats) -> tuple[ColorStats, ColorStats]:
        """Feed one frame's statistics of ``track``; return the smoothed (src, ref)."""
        with_cov = src.cov is not None
        new = np.concatenate([src.vector(), ref.vector()])
        t = self._tracks.get(track)
        if t is None or t.method != method:  # a new track, or its method changed: start over
            t = _Track(method, new.copy(), new.copy())
            self._tracks[track] = t
        elif not t.frozen:
            t.ema += self.alpha * (new - t.ema)
            moved = np.abs(t.ema - t.published) > self.deadband
            t.published = np.where(moved, t.ema, t.published)
            t.frames += 1
        half = len(t.published) // 2
        return (ColorStats.from_vector(t.published[:half], with_cov),
                ColorStats.from_vector(t.published[half:], with_cov))

    def freeze(self, track: Any = None) -> None:
        """Hold the published statistics of ``track`` (all tracks when None) as they are."""
        for key in self._keys(track):
            self._tracks[key].frozen = True

    def unfreeze(self, track: Any = None) -> None:
        """Resume smoothing of ``track`` (all tracks when None) from where it was held."""
        for key in self._keys(track):
            self._tracks[key].frozen = False

    def frozen(self, track: Any) -> bool:
        return track in self._tracks and self._tracks[track].frozen

    def reset(self, track: Any = None) -> None:
        """Forget ``track`` (all tracks when None): its next frame starts afresh."""
        for key in self._keys(track):
            del self._tracks[key]

    def tracks(self) -> list[Any]:
        return list(self._tracks)

    def _keys(self, track: Any) -> list[Any]:
        if track is None:
            return list(self._tracks)
        if track not in self._tracks:
            raise KeyError(f"track: {track!r} has no statistics yet")
        return [track]
