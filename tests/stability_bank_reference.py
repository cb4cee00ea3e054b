"""Numpy reference of the offline level bank (``ffaccel.stability._bank.smooth_channels``).

This is the bank as it was written before it moved to the compiled core
(``_core.stab_bank``): every level applied at once in the frequency domain (one forward
FFT per channel, one inverse per level and channel) over the same padded, periodic
signal, with the level ends' corrections filtered separately. The compiled bank runs the
same zero-phase responses as forward and backward recursions instead; the tests check
that both give the same output (to about 1e-12 face units).
"""

from __future__ import annotations

import functools

import numpy as np

from ffaccel.stability import _bank
from ffaccel.stability._bank import _END_FRAMES, _PAD, LEVELS, ORDER


def noise_variance_reference(y: np.ndarray, valid: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per-channel measurement-noise variance of (T, C) ``y`` from fourth differences.

    Median-based: for white noise of std s the fourth difference has std
    s * sqrt(70) (sum of the squared binomial weights 1, 4, 6, 4, 1).
    Only runs of five measured (not interpolated) frames count.
    """
    if len(y) < 5:
        return floor.copy()
    t = len(y) - 4
    ok = valid[:t] & valid[1:t + 1] & valid[2:t + 2] & valid[3:t + 3] & valid[4:]
    if not ok.any():
        return floor.copy()
    d4 = np.abs((((y[:t] - 4.0 * y[1:t + 1]) + 6.0 * y[2:t + 2]) - 4.0 * y[3:t + 3]) + y[4:])[ok]
    return np.maximum(np.median(d4, axis=0) ** 2 * (1.0 / (0.6745**2 * 70.0)), floor)


def _end_values(y: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(ks), C) values at the first and at the last frame of the straight lines
    fitted to the first / last ``k`` frames, for every k in ``ks`` (prefix sums)."""
    t_len = len(y)
    ks = np.clip(ks.astype(np.intp), 2, max(t_len, 2))
    t = np.arange(t_len, dtype=np.float64)[:, None]

    def starts(arr: np.ndarray) -> np.ndarray:
        s0 = np.cumsum(arr, axis=0)[ks - 1]  # sum of the first k values
        s1 = np.cumsum(t * arr, axis=0)[ks - 1]  # sum of t * value
        k = ks[:, None].astype(np.float64)
        mean_t = (k - 1.0) / 2.0
        sxx = k * (k * k - 1.0) / 12.0
        slope = (s1 - mean_t * s0) / sxx
        return s0 / k - slope * mean_t

    if t_len < 2:
        return np.repeat(y[:1], len(ks), 0), np.repeat(y[-1:], len(ks), 0)
    return starts(y), starts(y[::-1])


def _running(x: np.ndarray, half: int, op) -> np.ndarray:
    """Running min/max over +-half frames along axis 1 of (J?, T, C)-like arrays (axis 0 = time)."""
    if half <= 0:
        return x
    t_len = x.shape[0]
    out = x.copy()
    for k in range(1, half + 1):
        if k >= t_len:
            break
        op(out[k:], x[:-k], out=out[k:])
        op(out[:-k], x[k:], out=out[:-k])
    return out


def _moving_average(x: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average over +-half frames along axis 0 (window shrinks at the ends)."""
    if half <= 0 or len(x) < 2:
        return x
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    t = np.arange(len(x))
    lo = np.clip(t - half, 0, None)
    hi = np.clip(t + half + 1, None, len(x))
    return (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))


@functools.lru_cache(maxsize=16)
def _plan(t_len: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Data-independent parts of ``smooth_channels`` for a segment of ``t_len`` frames padded
    to ``n``: the bank's responses (J, F), their noise gains ||h|| (J,), the level-end
    corrections' unit responses (J, 2, T) and the end-value fit lengths. Cached (read-only)."""
    w = 2.0 * np.pi * np.arange(n // 2 + 1) / n
    d4 = (2.0 - 2.0 * np.cos(w)) ** ORDER
    resp = 1.0 / (1.0 + d4[None, :] / LEVELS[:, None])  # (J, F)
    # ||h||^2 over the full circle: (1/n) sum |H|^2, the rfft half counted twice but for DC and Nyquist
    wts = np.full(len(w), 2.0)
    wts[0] = 1.0
    if n % 2 == 0:
        wts[-1] = 1.0
    norm = np.sqrt((resp**2 * wts).sum(axis=1) / n)  # (J,)
    u = np.zeros((2, n))
    u[0, :_PAD] = 2.0
    u[0, _PAD] = 1.0
    u[1, t_len + _PAD: t_len + 2 * _PAD] = 2.0
    u[1, t_len + _PAD - 1] = 1.0
    g = np.fft.irfft(resp[:, None, :] * np.fft.rfft(u, axis=1)[None], n=n, axis=2)[:, :, _PAD:_PAD + t_len]  # (J, 2, T)
    g = np.ascontiguousarray(g)
    for a in (resp, norm, g):
        a.flags.writeable = False
    return resp, norm, g


def smooth_channels_reference(y: np.ndarray, r: np.ndarray, lightest: np.ndarray, *, gamma: float = 1.5,
                    erode: int = 3, average: int = 5) -> np.ndarray:
    """Smooth (T, C) channels (finite, uniformly spaced) with the level bank.

    Args:
        y: (T, C) channel values.
        r: (C,) measurement-noise variance per channel.
        lightest: (C,) index into ``LEVELS`` of the smoothest level each
            channel may use (0 allows all; a higher value is gentler).
        gamma: ICI threshold, in noise standard deviations.
        erode, average: frames (each side) of the level's running minimum
            and of its moving average.

    Returns:
        (T, C) float64.

    Internally the channels are laid out (C, T) (time contiguous): every transform and the
    rule run along the last axis. Channels that may not use the smoothest levels skip them
    (the rule's outcome for them does not depend on those levels).
    """
    t_len, n_ch = y.shape
    if t_len < 3:
        return y.copy()
    n = 1 << int(np.ceil(np.log2(t_len + 2 * _PAD + 16)))
    resp, norm, g = _plan(t_len, n)
    # One padded copy for every level: odd reflection about the first / last value. Level j
    # reflects about its own end values p0, p1 instead, which adds d0 * u_left + d1 * u_right
    # (d = p - end value; u = 2 on the pad, 1 on the end frame): filtered once per level.
    yt = y.T
    padded = np.empty((n_ch, n))
    m = t_len + 2 * _PAD
    padded[:, :m] = np.pad(yt, ((0, 0), (_PAD, _PAD)), mode="reflect", reflect_type="odd")
    gap = n - m  # wrap-around filler: a straight line from the right pad back to the left one
    w_fill = np.arange(1, gap + 1) / (gap + 1)
    padded[:, m:] = padded[:, m - 1:m] + w_fill[None, :] * (padded[:, :1] - padded[:, m - 1:m])
    spec = np.fft.rfft(padded, axis=1)  # (C, F)
    p0, p1 = _end_values(y, _END_FRAMES)
    d0 = (p0 - y[0]).T  # (C, J)
    d1 = (p1 - y[-1]).T
    sdr = np.sqrt(r)
    out = np.empty((n_ch, t_len))
    n_lev = len(LEVELS)
    for low in np.unique(lightest):
        cs = np.flatnonzero(lightest == low)
        js = slice(int(low), n_lev)
        est = np.fft.irfft(resp[js, None, :] * spec[None, cs], n=n, axis=2)[:, :, _PAD:_PAD + t_len]  # (J', C', T)
        est += g[js, 0, None, :] * d0[cs, js].T[:, :, None] + g[js, 1, None, :] * d1[cs, js].T[:, :, None]
        sd = (norm[js, None] * sdr[None, cs])[:, :, None]
        # ICI from the lightest level (last) toward the smoothest (first). ``lower`` only rises
        # and ``upper`` only falls along the way, so the agreeing levels are a leading run:
        # count them (a loop over levels: ufunc.accumulate along a short axis is slow).
        lo_all = est - gamma * sd
        up_all = est + gamma * sd
        lower = lo_all[-1].copy()
        upper = up_all[-1].copy()
        run = np.ones(lower.shape, np.intp)  # (C', T), >= 1
        for j in range(est.shape[0] - 2, -1, -1):
            np.maximum(lower, lo_all[j], out=lower)
            np.minimum(upper, up_all[j], out=upper)
            run += lower <= upper
        level = np.maximum((n_lev - run).astype(np.float64), float(low))
        level = _running(level.T, erode, np.maximum)  # larger index = lighter smoothing
        level = _moving_average(level, average).T
        j0 = np.clip(np.floor(level).astype(np.intp), 0, n_lev - 1)
        j1 = np.minimum(j0 + 1, n_lev - 1)
        frac = level - j0
        stride = level.size
        pos = np.arange(stride).reshape(level.shape) - low * stride
        a = np.take(est, j0 * stride + pos)
        b = np.take(est, j1 * stride + pos)
        out[cs] = a + frac * (b - a)
    return out.T
