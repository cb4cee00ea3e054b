"""Offline zero-lag track smoothing: a constant-velocity Kalman filter plus a
Rauch-Tung-Striebel (RTS) backward pass, per landmark coordinate.

Why RTS: when the whole clip is known, each frame's estimate may use the
frames after it. The forward Kalman filter alone lags like any causal filter;
the backward pass makes the estimate the posterior mean given the whole
segment, so a ramp or a steady head turn has no lag at all.

Cuts (given or detected) split the track into segments smoothed on their own,
so nothing leaks across a scene change. Rows of NaN are dropouts: the filter
only predicts there, and the backward pass interpolates them from both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ffaccel._checks import as_float_array, check_coordinates, positive
from ._boxes import box_iou

__all__ = ["smooth_track", "detect_cuts", "estimate_noise"]


def estimate_noise(landmarks: np.ndarray) -> float:
    """Robust per-coordinate detector noise, in px, of a (T, N, 2) track.

    The second difference of i.i.d. noise of std s has std s*sqrt(6), while
    smooth motion adds little to it. The RMS of the second differences is
    taken after dropping the largest 5 % (cuts, outliers) and corrected for
    that trimming under a Gaussian. A median-based (MAD) estimate would be
    more robust still but collapses to 0 on quantized landmarks (a 2 px grid
    makes most second differences exactly 0).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> track = rng.normal(0.0, 2.0, (200, 68, 2))
        >>> round(estimate_noise(track), 1)
        2.0
    """
    arr = as_float_array(landmarks, "landmarks", (None, None, 2), allow_nan=True)
    d2 = np.diff(arr, n=2, axis=0).ravel()
    d2 = np.abs(d2[np.isfinite(d2)])
    if d2.size == 0:
        return 0.0
    kept = np.sort(d2)[: max(1, int(np.ceil(0.95 * d2.size)))]
    # E[x^2 | |x| <= 1.96 s] = 0.7595 s^2 for Gaussian x of std s
    return float(np.sqrt(np.mean(kept**2) / 0.7595 / 6.0))


def detect_cuts(landmarks: np.ndarray, cut_jump: float = 0.3, cut_iou: float = 0.3) -> list[int]:
    """Frames that start a new shot in a (T, N, 2) track.

    A frame starts a new shot when, against the previous valid (non-NaN)
    frame, the median landmark jump exceeds ``cut_jump`` face sizes (sqrt of
    the bounding-box area) or the bounding-box IoU drops under ``cut_iou``.

    Returns:
        Sorted frame indices t (0 < t < T).

    Example:
        >>> import numpy as np
        >>> a = np.zeros((6, 4, 2)); a[:, :, 0] = [0, 10, 0, 10]; a[:, :, 1] = [0, 0, 10, 10]
        >>> a[3:] += 100.0
        >>> detect_cuts(a)
        [3]
    """
    arr = as_float_array(landmarks, "landmarks", (None, None, 2), allow_nan=True)
    positive(cut_jump, "cut_jump")
    cuts: list[int] = []
    prev = None
    for t in range(arr.shape[0]):
        row = arr[t]
        if not np.all(np.isfinite(row)):
            continue
        box = np.concatenate([row.min(axis=0), row.max(axis=0)])
        if prev is not None:
            prow, pbox = prev
            size = np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1e-12))
            jump = np.median(np.hypot(*(row - prow).T))
            if jump > cut_jump * size or box_iou(box, pbox) < cut_iou:
                cuts.append(t)
        prev = (row, box)
    return cuts


def _rts_segment(z: np.ndarray, dts: np.ndarray, r2: float, q2: float) -> np.ndarray:
    """Smooth one segment. z: (T, K) with NaN for missing; dts: (T-1,) frame steps."""
    t_len, k = z.shape
    xf = np.zeros((t_len, k, 2))
    pf = np.zeros((t_len, k, 2, 2))
    xp = np.zeros((t_len, k, 2))
    pp = np.zeros((t_len, k, 2, 2))
    x = np.zeros((k, 2))
    p = np.zeros((k, 2, 2))
    p[:, 0, 0] = p[:, 1, 1] = 1e8  # diffuse prior: the first measurement decides
    seen = np.zeros(k, bool)
    for t in range(t_len):
        if t > 0:
            dt = dts[t - 1]
            f = np.array([[1.0, dt], [0.0, 1.0]])
            q = q2 * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]])
            x = x @ f.T
            p = f @ p @ f.T + q
        xp[t], pp[t] = x, p
        obs = np.isfinite(z[t])
        if np.any(obs):
            s = p[obs, 0, 0] + r2
            gain = p[obs, :, 0] / s[:, None]
            innov = z[t, obs] - x[obs, 0]
            x[obs] += gain * innov[:, None]
            p[obs] -= gain[:, :, None] * gain[:, None, :] * s[:, None, None]
            seen |= obs
        xf[t], pf[t] = x, p
    xs = xf.copy()
    for t in range(t_len - 2, -1, -1):
        dt = dts[t]
        f = np.array([[1.0, dt], [0.0, 1.0]])
        a, b, c, d = pp[t + 1, :, 0, 0], pp[t + 1, :, 0, 1], pp[t + 1, :, 1, 0], pp[t + 1, :, 1, 1]
        det = a * d - b * c
        inv = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / det[:, None, None]
        gain = pf[t] @ f.T @ inv  # (K, 2, 2) smoother gain
        xs[t] = xf[t] + np.einsum("kij,kj->ki", gain, xs[t + 1] - xp[t + 1])
    out = xs[:, :, 0]
    # Before the first and after the last measurement there is no face to place.
    finite = np.isfinite(z)
    first = np.argmax(finite, axis=0)
    last = t_len - 1 - np.argmax(finite[::-1], axis=0)
    idx = np.arange(t_len)[:, None]
    out[(idx < first) | (idx > last) | ~finite.any(axis=0)] = np.nan
    return out


def smooth_track(
    landmarks: np.ndarray,
    *,
    timestamps: np.ndarray | None = None,
    noise_px: float | None = None,
    accel_px: float = 0.15,
    cuts: Sequence[int] | None = None,
    cut_jump: float = 0.3,
    cut_iou: float = 0.3,
) -> np.ndarray:
    """Zero-lag smoothing of a whole landmark track (offline, RTS smoother).

    Each coordinate of each landmark is a constant-velocity state driven by
    white acceleration noise of std ``accel_px`` px/frame^2 (per second^2 of
    time when ``timestamps`` are given, then scaled by the median frame
    interval), observed with noise ``noise_px``. The forward Kalman pass and
    the RTS backward pass give the posterior mean of every frame given the
    whole segment.

    Args:
        landmarks: (T, N, 2) pixels, x then y. A landmark or a whole row may
            be NaN (a dropout): it is interpolated from both sides. Frames
            before a segment's first or after its last measurement stay NaN.
        timestamps: (T,) seconds, strictly increasing, or None for uniform frames.
        noise_px: detector noise std in px; None estimates it
            (``estimate_noise``).
        accel_px: std of the per-frame change of velocity, px/frame^2. Lower
            is smoother; real head motion needs ~0.1-0.5.
        cuts: frame indices that start a new shot. None detects them
            (``detect_cuts`` with ``cut_jump`` and ``cut_iou``); pass ``[]``
            to smooth across everything.

    Returns:
        (T, N, 2) float64 smoothed track.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> face = rng.uniform(0, 100, (68, 2))
        >>> truth = np.linspace(0, 60, 90)[:, None, None] + face
        >>> noisy = truth + rng.normal(0, 1.5, truth.shape)
        >>> out = smooth_track(noisy)
        >>> bool(np.abs(out - truth).mean() < 0.5 * np.abs(noisy - truth).mean())
        True
    """
    arr = as_float_array(landmarks, "landmarks", (None, None, 2), allow_nan=True)
    if np.any(np.isinf(arr)):
        raise ValueError("landmarks must not contain inf (use NaN for dropouts)")
    check_coordinates(arr, "landmarks")
    t_len = arr.shape[0]
    if t_len == 0:
        raise ValueError("landmarks must have at least one frame")
    accel = positive(accel_px, "accel_px")
    if timestamps is None:
        dts = np.ones(max(t_len - 1, 0))
    else:
        ts = as_float_array(timestamps, "timestamps", (t_len,))
        dts = np.diff(ts)
        if np.any(dts <= 0):
            raise ValueError("timestamps must be strictly increasing")
        dts = dts / np.median(dts) if dts.size else dts
    if noise_px is None:
        noise = max(estimate_noise(arr), 1e-3)
    else:
        noise = positive(noise_px, "noise_px")
    if cuts is None:
        starts = detect_cuts(arr, cut_jump, cut_iou)
    else:
        starts = sorted({int(c) for c in cuts})
        if any(c <= 0 or c >= t_len for c in starts):
            raise ValueError(f"cuts must be frame indices in (0, {t_len}), got {list(cuts)}")
    bounds = [0, *starts, t_len]
    flat = arr.reshape(t_len, -1)
    out = np.empty_like(flat)
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = _rts_segment(flat[a:b], dts[a : b - 1], noise**2, accel**2)
    return out.reshape(arr.shape)
