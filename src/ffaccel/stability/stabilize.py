"""``stabilize_track``: scale-free landmark stabilisation that tells detector
noise from head motion, in three modes (offline, fixed-lag, causal).

Method (details in docs/stability.md):

1. Each frame's points are split into a rigid similarity (centroid, log
   scale, rotation of the least-squares fit of a reference shape) and a
   per-point residual (expression), all in face units (``_rigid``). Real
   detectors' noise is mostly a rigid shift of all points together; here it
   lands in the translation channels, where it is measured and filtered on
   its own instead of being mistaken for head motion.
2. Every channel gets a constant-velocity motion model whose process noise
   is adapted to the data, so still stretches are smoothed hard and fast
   motion passes. The measurement noise is estimated from the track (median
   of second differences); nothing is in pixels, nothing needs tuning.

   - offline: a bank of steady-state RTS smoothers, the level chosen per
     frame and channel by the ICI rule (``_bank``); zero lag.
   - fixed_lag: adaptive Kalman filter + RTS over the last ``lag`` frames.
   - causal: the same adaptive Kalman filter, no future frames.

   The residual channels are filtered the same way but never harder than a
   gentler floor, so expressions (mouth, blinks) are kept.
3. Cuts (given, or detected by a scale-free rule, ``_cuts``) restart
   everything; missed frames (NaN rows) are interpolated offline and
   carried on at the filtered velocity causally.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _bank
from ffaccel._checks import as_float_array
from ._cuts import cut_flags
from ._modes import MODES, check_mode
from ._rigid import from_channels, reference_shape, to_channels
from .stabilizer import LandmarkStabilizer

__all__ = ["stabilize_track", "MODES"]

#: Noise floors, in face units (RMS radius 1): a noise-free track must not divide by zero.
_FLOOR_RIGID = 1e-4**2
_FLOOR_RESID = 1e-4**2
#: Smoothest bank level the residual (expression) channels may use: gentler than the rigid ones.
_RESID_LIGHTEST = 4
#: Robust standard deviations off the 5-frame median at which a frame counts as a detector glitch.
OUTLIER = 5.0


def _check_landmarks(landmarks) -> np.ndarray:
    arr = as_float_array(landmarks, "landmarks", (None, None, 2), allow_nan=True)
    if arr.shape[0] == 0:
        raise ValueError("landmarks: expected at least one frame, got shape (0, N, 2)")
    if arr.shape[1] < 2:
        raise ValueError(f"landmarks: expected at least 2 points per frame, got shape {arr.shape}")
    if np.any(np.isinf(arr)):
        raise ValueError("landmarks: expected finite values or NaN rows for missed frames, got inf")
    partial = np.isnan(arr).any(axis=(1, 2)) & ~np.isnan(arr).all(axis=(1, 2))
    if partial.any():
        raise ValueError(f"landmarks: expected whole NaN rows for missed frames, got a partly NaN frame {int(np.flatnonzero(partial)[0])}")
    return arr


def _check_cuts(cuts, t_len: int) -> list[int] | None:
    if cuts is None:
        return None
    try:
        values = [c for c in cuts]
    except TypeError:
        raise TypeError(f"cuts: expected a sequence of frame indices or None, got {type(cuts).__name__}") from None
    out = set()
    for c in values:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"cuts: expected int frame indices, got {c!r}")
        if not 0 < c < t_len:
            raise ValueError(f"cuts: expected frame indices in (0, {t_len}), got {int(c)}")
        out.add(int(c))
    return sorted(out)


def _check_timestamps(timestamps, t_len: int) -> np.ndarray | None:
    if timestamps is None:
        return None
    ts = as_float_array(timestamps, "timestamps", (t_len,))
    if t_len > 1 and np.any(np.diff(ts) <= 0):
        raise ValueError("timestamps: expected strictly increasing seconds")
    return ts


def _quadratic_deviation(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Deviation of each frame from the least-squares parabola in time through its four
    nearest other frames (two on either side away from the ends), in units of the
    deviation's noise std for unit measurement noise. For equally spaced frames the
    parabola's value is (-y[t-2] + 4 y[t-1] + 4 y[t+1] - y[t+2]) / 6."""
    t_len = len(ch)
    idx = np.arange(t_len)
    start = np.clip(idx - 2, 0, t_len - 5)
    near = start[:, None] + np.arange(5)[None, :]
    near = np.sort(np.where(near == idx[:, None], -1, near), axis=1)[:, 1:]  # drop t itself
    tau = at[near] - at[:, None]
    # the weights depend on the frame's time offsets only: where the inner frames all share
    # one pattern (equally spaced frames), solve for the two first, one inner and two last rows
    rows = np.arange(t_len)
    if t_len > 5 and np.all(tau[2:-2] == tau[2]):
        rows = np.array([0, 1, 2, t_len - 2, t_len - 1])
    a = np.stack([np.ones_like(tau[rows]), tau[rows], tau[rows] ** 2], axis=-1)  # (R, 4, 3)
    g = np.einsum("tki,tkj->tij", a, a)
    e0 = np.zeros((len(rows), 3, 1))
    e0[:, 0, 0] = 1.0
    w = np.einsum("tki,ti->tk", a, np.linalg.solve(g, e0)[..., 0])  # (R, 4) weights of the prediction
    if len(rows) < t_len:
        w = np.concatenate([w[:2], np.repeat(w[2:3], t_len - 4, axis=0), w[3:]])
    noise = np.sqrt(1.0 + np.sum(w * w, axis=1))
    return np.abs(ch - np.einsum("tk,tkc->tc", w, ch[near])) / noise[:, None]


def _median_deviation(ch: np.ndarray) -> np.ndarray:
    """|y - median of the 5 frames around it| (the first / last 5 frames at the ends).

    The median of 5 is a min/max network (the same value as ``np.median``, fewer passes):
    median3(e, max(min(a, b), min(c, d)), min(max(a, b), max(c, d))).
    """
    t_len = len(ch)
    start = np.clip(np.arange(t_len) - 2, 0, t_len - 5)
    a, b, c, d, e = (ch[start + k] for k in range(5))
    f = np.maximum(np.minimum(a, b), np.minimum(c, d))
    g = np.minimum(np.maximum(a, b), np.maximum(c, d))
    med = np.maximum(np.minimum(f, g), np.minimum(np.maximum(f, g), e))
    return np.abs(ch - med)


def _outliers(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T,) bool: frames whose channels jump off their neighbours (detector glitches).

    ``ch`` (T, C) are the measured frames at frame times ``at`` (T,). Two tests
    must both fire, in the same channel, at more than ``OUTLIER`` robust
    standard deviations (1.4826 MAD of that test's values in that channel):

    - off the least-squares parabola in time through the frame's four nearest
      other frames: follows smooth motion (a fast nod), but a glitch next door
      pulls it;
    - off the median of the five frames around it: ignores up to two glitches
      in the window, but cuts the corners of fast motion.

    Where the head moves steadily the median of 5 is the frame itself, so that
    test's scale is at least half the first one's. Flagged frames are dropped
    and the tests repeated (3 passes at most; the scales stay those of the
    first pass). If more than half the frames would go, none does. The caller
    interpolates dropped frames, and extrapolates the trend of the nearest kept
    frames at the start or end of the shot (a detector that has just locked on
    can be noisier for a few frames).
    """
    t_len = len(ch)
    bad = np.zeros(t_len, bool)
    scales = None
    for _ in range(3):
        keep = np.flatnonzero(~bad)
        if len(keep) < 5:
            break
        dq = _quadratic_deviation(ch[keep], at[keep])
        dm = _median_deviation(ch[keep])
        if scales is None:
            sq = np.maximum(1.4826 * np.median(dq, axis=0), 1e-9 * (1.0 + np.abs(ch).max(axis=0)))
            # where the head moves steadily the median of 5 is the frame itself: floor its scale
            sm = np.maximum(1.4826 * np.median(dm, axis=0), 0.5 * sq)
            scales = (sq, sm)
        both = np.minimum(dq / scales[0], dm / scales[1])
        new = np.any(both > OUTLIER, axis=1)
        if not new.any():
            break
        bad[keep[new]] = True
    if (~bad).sum() < max(5, t_len // 2):
        bad[:] = False  # mostly "glitches": no
    return bad


def _offline_segment(z: np.ndarray, valid: np.ndarray, times: np.ndarray | None) -> np.ndarray:
    """Smooth one shot: complex (T, N) frames, rows valid where ``valid``. Returns (T, N, 2)."""
    t_len, n = z.shape
    out = np.full((t_len, n, 2), np.nan)
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    m, size = reference_shape(z[idx])
    ch_valid = to_channels(z[idx], m, size)
    first, last = idx[0], idx[-1]
    if times is None:
        frame_at = idx.astype(np.float64)
    else:  # in frames (the parabola fit is scale-free in time, its numerics are not)
        step = float(np.median(np.diff(times[idx]))) if len(idx) > 1 else 1.0
        frame_at = (times[idx] - times[idx[0]]) / step
    bad = _outliers(ch_valid, frame_at)
    if bad.any() and (~bad).sum() >= 2:
        idx, ch_valid = idx[~bad], ch_valid[~bad]
    span = np.arange(first, last + 1)
    if times is None:
        grid = span.astype(np.float64)
        at = idx.astype(np.float64)
    else:  # resample onto a uniform grid at the median frame interval, and back
        dt = float(np.median(np.diff(times[idx]))) if len(idx) > 1 else 1.0
        at = (times[idx] - times[first]) / dt
        grid = np.arange(0.0, (times[last] - times[first]) / dt + 0.5)
        if len(grid) > 4 * (last - first + 1) + 16:
            raise ValueError("timestamps: the frames are too unevenly spaced to resample (gaps over 4x the median interval)")
    ch = np.empty((len(grid), ch_valid.shape[1]))
    for k in range(ch.shape[1]):
        ch[:, k] = np.interp(grid, at, ch_valid[:, k])
    # before the first / after the last kept frame (dropped glitches): the straight line
    # through the nearest kept frames, not a held value (a pan would lag)
    for side, sel in ((0, grid < at[0] - 1e-6), (1, grid > at[-1] + 1e-6)):
        if sel.any() and len(at) >= 2:
            near = slice(0, min(8, len(at))) if side == 0 else slice(max(len(at) - 8, 0), len(at))
            coef = np.polyfit(at[near], ch_valid[near], 1)
            ch[sel] = grid[sel][:, None] * coef[0][None, :] + coef[1][None, :]
    measured = np.zeros(len(grid), bool)
    if times is None:
        measured[idx - first] = True
    else:
        measured[np.clip(np.round(at).astype(np.intp), 0, len(grid) - 1)] = True
    n_ch = ch.shape[1]
    floor = np.full(n_ch, _FLOOR_RESID)
    floor[:4] = _FLOOR_RIGID
    r = _bank.noise_variance(ch, measured, floor)
    lightest = np.zeros(n_ch, np.intp)
    lightest[4:] = _RESID_LIGHTEST
    sm = _bank.smooth_channels(ch, r, lightest)
    if times is not None:
        back = np.empty((len(span), n_ch))
        at_span = (times[first:last + 1] - times[first]) / dt
        for k in range(n_ch):
            back[:, k] = np.interp(at_span, grid, sm[:, k])
        sm = back
    out[first:last + 1] = from_channels(sm, m, size)
    return out


def stabilize_track(
    landmarks: np.ndarray,
    *,
    mode: str = "offline",
    lag: int = 3,
    timestamps: np.ndarray | None = None,
    cuts: Sequence[int] | None = None,
) -> np.ndarray:
    """Stabilise one face's landmark track; no tuning, any face size.

    The points of each frame are split into a rigid similarity (position,
    scale, rotation) and a per-point residual (expression). Each part is
    filtered with a motion model whose noise level and motion level are
    estimated from the track itself, in units of the face's size, so the
    same clip at any resolution gives the same result relative to the face.

    Args:
        landmarks: (T, N, 2) points in pixels (x, y), any real dtype, N >= 2
            (5-point and 68-point markups both work). A whole row of NaN is a
            missed frame.
        mode: ``"offline"`` (whole track known; zero lag), ``"fixed_lag"``
            (each output frame uses at most ``lag`` later frames) or
            ``"causal"`` (no later frames; for live use).
        lag: frames of look-ahead in ``"fixed_lag"`` mode (>= 0; ignored by
            the other modes).
        timestamps: (T,) seconds, strictly increasing, or None for a fixed
            frame rate.
        cuts: frame indices that start a new shot, or None to detect them
            (a scale-free rule on position, size, rotation and shape jumps).
            Every shot is filtered on its own.

    Returns:
        (T, N, 2) float64 points in pixels. Offline, a missed frame is
        interpolated from both sides; frames before a shot's first or after
        its last detection stay NaN. Causal and fixed-lag, a missed frame
        moves on at the filtered velocity (up to 8 frames of a run, then
        holds; frames before the first detection are NaN). The causal and fixed-lag results equal those of
        :class:`LandmarkStabilizer` fed the same frames.

    Raises:
        ValueError / TypeError naming the argument for a wrong shape, dtype,
        inf, a partly NaN frame, an unknown mode, bad cuts or timestamps.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> face = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]])
        >>> truth = face + np.linspace(0, 60, 120)[:, None, None] + 300.0
        >>> noisy = truth + rng.normal(0, 1.5, (120, 1, 2))   # rigid detector noise
        >>> out = stabilize_track(noisy)
        >>> bool(np.abs(out - truth).mean() < 0.4 * np.abs(noisy - truth).mean())
        True
    """
    arr = _check_landmarks(landmarks)
    mode, lag = check_mode(mode, lag)
    t_len, n, _ = arr.shape
    times = _check_timestamps(timestamps, t_len)
    given = _check_cuts(cuts, t_len)
    if mode != "offline":
        return LandmarkStabilizer(mode=mode, lag=lag)._run_track(arr, times, given)
    z = arr[..., 0] + 1j * arr[..., 1]
    valid = ~np.isnan(arr[:, 0, 0])
    starts = cut_flags(z, valid) if given is None else given
    bounds = [0, *starts, t_len]
    out = np.empty((t_len, n, 2))
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = _offline_segment(z[a:b], valid[a:b], None if times is None else times[a:b])
    return out
