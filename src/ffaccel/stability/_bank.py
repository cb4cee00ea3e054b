"""Offline zero-lag smoothing of channels with a per-frame, per-channel bandwidth.

Each channel y (one segment, T frames, uniformly spaced, NaN rows already
interpolated) is smoothed by a bank of J steady-state Rauch-Tung-Striebel
smoothers of a polynomial motion model (white process noise of variance q on the
K-th difference, white measurement noise of variance r; K = ``ORDER`` = 3, the
constant-acceleration model; K = 2 would be the constant-velocity one). In the
steady state the RTS smoother is the zero-phase filter

    H(w) = 1 / (1 + (2 - 2 cos w)^K / L^2),    L^2 = q / r,

(for K = 2 the Hodrick-Prescott / cubic smoothing-spline response; for any K a
straight line passes unchanged, so a steady pan has no lag). The levels L^2 are spaced half
a decade apart from ``LEVELS[0]`` (smoothest) to ``LEVELS[-1]`` (lightest).
Each level runs as a pair of recursions (``_core.stab_bank``, C++): the response
factors as ``H = g^2 / |A(e^{iw})|^2`` with ``A(z) = 1 + a_1 z^-1 + ... + a_K z^-K``
(K = ``ORDER``, the roots of ``L^2 + (2 - z - 1/z)^K`` inside the unit circle, in
closed form) and ``g = A(1)``; a forward pass of ``g / A(z)`` and a backward pass of
``g / A(1/z)`` over the padded, periodic signal, each started ``warm`` samples early
(the poles' decay over those samples is below 1e-15: far below the 1e-9 face widths the
output is held to, for tracks of up to ~1e5 face radii), give the circular convolution a
frequency-domain filter of the same period computes (tests/stability_bank_reference.py
keeps that FFT form as the reference; the two agree to about 1e-12 face units).

Which level a frame gets is the Intersection of Confidence Intervals rule
(Goldenshluger and Nemirovski 1997; Katkovnik 1999): going from the lightest
level to smoother ones, keep the smoothest level whose estimate still lies
within ``gamma`` standard deviations (of noise, ``sqrt(r) * ||h_j||``) of every
lighter level's estimate. Still stretches get the smoothest level; a fast nod
gets a light one exactly where the smoother ones start to cut its corners.
The chosen level is then eroded (minimum over nearby frames, i.e. lighter)
and averaged over a few frames, and the output blends the two nearest levels:
a level that switches from frame to frame would itself show up as jitter.

Ends: for each level, the segment is extended on both sides by point
reflection about the end value of a straight line fitted to its first / last
frames (over about two of the level's half-widths), so a steady pan keeps no
lag at the ends either and the smoothest levels do not see a noisy end value.
"""

from __future__ import annotations

import functools

import numpy as np

from ffaccel import _core

__all__ = ["LEVELS", "smooth_channels", "noise_variance"]

LEVELS = 10.0 ** np.arange(-6.0, 2.01, 0.5)  # L^2 = q / r, smoothest first
ORDER = 3  # 2: constant-velocity model (cubic spline); 3: constant acceleration
_PAD = 48  # frames of straight-line extension at each end
# Frames fitted by the line whose end value each level's data are reflected about: about
# two of the level's effective half-widths (L**-0.5 frames), 4 at least.
_END_FRAMES = np.clip(np.round(2.0 / LEVELS**0.25), 4, None)
_ENDS = _END_FRAMES.astype(np.int32)
_ENDS.flags.writeable = False
#: Order of the differences the noise level is read from, and the median |difference| -> sigma^2
#: factor for white Gaussian noise (the difference of order k has variance C(2k, k) sigma^2: 70 at k = 4).
NOISE_ORDER = 4
_MAD_TO_SIGMA2 = 1.0 / (0.6745**2 * 70.0)


def noise_variance(y: np.ndarray, valid: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per-channel measurement-noise variance of (T, C) ``y`` from fourth differences.

    Median-based (robust to glitches): for white noise of std s the fourth
    difference ``y[t] - 4 y[t+1] + 6 y[t+2] - 4 y[t+3] + y[t+4]`` has std
    s * sqrt(70). Smooth head motion adds little to it: a motion at w rad per
    frame is scaled by (2 - 2 cos w)^2, against (2 - 2 cos w) for the second
    difference this estimate used before. On a fast nod (1.5 Hz at 30 fps) the
    second difference read the head's acceleration as noise (the centroid's
    noise 1.3x too high on the worst MTCNN clip), and the level rule, its
    thresholds that much wider, cut the nod's corners.
    Only runs of five measured (not interpolated) frames count; ``floor``
    (C,) where there are none (fewer than 5 frames). Runs in
    ``_core.stab_noise_variance``.
    """
    out = np.empty(y.shape[1])
    _core.stab_noise_variance(np.ascontiguousarray(y, np.float64), np.ascontiguousarray(valid, np.uint8),
                              np.ascontiguousarray(floor, np.float64), _MAD_TO_SIGMA2, out)
    return out


@functools.lru_cache(maxsize=4)
def _recursions() -> tuple[np.ndarray, np.ndarray]:
    """(J, ORDER) coefficients a_1..a_K of every level's causal factor A_j, and (J,) int32
    warm-up lengths (samples over which its slowest pole decays below 1e-15). Read-only."""
    k = np.arange(ORDER)
    coef = np.empty((len(LEVELS), ORDER))
    warm = np.empty(len(LEVELS), np.int32)
    for j, l2 in enumerate(LEVELS):
        # (2 - z - 1/z)^K = -L^2: u = 2 - z - 1/z is one of the K roots of -L^2, and
        # z^2 - (2 - u) z + 1 = 0 gives z and 1/z; keep the one inside the unit circle.
        u = l2 ** (1.0 / ORDER) * np.exp(1j * np.pi * (2 * k + 1) / ORDER)
        b = 2.0 - u
        disc = np.sqrt(b * b - 4.0)
        z = np.where(np.abs((b + disc) / 2) < 1.0, (b + disc) / 2, (b - disc) / 2)
        coef[j] = np.real(np.poly(z))[1:]
        warm[j] = int(np.ceil(np.log(1e-15) / np.log(np.max(np.abs(z)))))
    for a in (coef, warm):
        a.flags.writeable = False
    return coef, warm


@functools.lru_cache(maxsize=16)
def _noise_gains(n: int) -> np.ndarray:
    """(J,) noise gains ||h_j|| of the levels' responses on a circle of ``n`` samples. Read-only."""
    w = 2.0 * np.pi * np.arange(n // 2 + 1) / n
    d4 = (2.0 - 2.0 * np.cos(w)) ** ORDER
    resp = 1.0 / (1.0 + d4[None, :] / LEVELS[:, None])  # (J, F)
    # ||h||^2 over the full circle: (1/n) sum |H|^2, the rfft half counted twice but for DC and Nyquist
    wts = np.full(len(w), 2.0)
    wts[0] = 1.0
    if n % 2 == 0:
        wts[-1] = 1.0
    norm = np.sqrt((resp**2 * wts).sum(axis=1) / n)
    norm.flags.writeable = False
    return norm


def padded_length(t_len: int) -> int:
    """Period n of the padded signal of a ``t_len``-frame segment (a power of two)."""
    return 1 << int(np.ceil(np.log2(t_len + 2 * _PAD + 16)))


def smooth_channels(y: np.ndarray, r: np.ndarray, lightest: np.ndarray, *, gamma: float = 1.5,
                    erode: int = 3, average: int = 5) -> np.ndarray:
    """Smooth (T, C) channels (finite, uniformly spaced) with the level bank.

    Args:
        y: (T, C) channel values.
        r: (C,) measurement-noise variance per channel.
        lightest: (C,) index into ``LEVELS`` of the smoothest level each
            channel may use (0 allows all; a higher value is gentler).
        gamma: ICI threshold, in noise standard deviations.
        erode, average: frames (each side) of the level's running maximum
            and of its moving average.

    Returns:
        (T, C) float64.

    The padded signal (odd reflection about the first / last value, then a straight-line
    filler back to the start: one period of n samples), and the noise gains are made
    here; the level ends' lines, the recursions, the ICI rule and the blend run in
    ``_core.stab_bank``. Channels that may not use the smoothest levels skip them (the
    rule's outcome for them does not depend on those levels).
    """
    t_len, n_ch = y.shape
    if t_len < 3:
        return y.copy()
    lightest = np.asarray(lightest, np.int32)
    ident = bool(np.all(lightest[1:] >= lightest[:-1]))  # the core wants the levels' lower bounds non-decreasing
    if not ident:
        order = np.argsort(lightest, kind="stable")
        y, r, lightest = y[:, order], r[order], lightest[order]
    n = padded_length(t_len)
    m = t_len + 2 * _PAD
    padded = np.zeros((n, -(-n_ch // 4) * 4))  # columns rounded up to 4 (the core's lanes), the extra ones 0
    body = padded[:, :n_ch]
    if t_len > _PAD:  # odd reflection about the end frames (numpy.pad's "reflect", "odd"; same arithmetic)
        body[_PAD:_PAD + t_len] = y
        body[:_PAD] = 2 * y[0] - y[_PAD:0:-1]
        body[_PAD + t_len:m] = 2 * y[-1] - y[-2:-_PAD - 2:-1]
    else:  # numpy reflects again past the far end
        body[:m] = np.pad(y, ((_PAD, _PAD), (0, 0)), mode="reflect", reflect_type="odd")
    gap = n - m  # wrap-around filler: a straight line from the right pad back to the left one
    w_fill = (np.arange(1, gap + 1) / (gap + 1))[:, None]
    body[m:] = body[m - 1] + w_fill * (body[0] - body[m - 1])
    coef, warm = _recursions()
    out = np.empty((t_len, n_ch))
    _core.stab_bank(padded, t_len, _PAD, _ENDS, coef, warm,
                    _noise_gains(n), np.sqrt(r), lightest, float(gamma), int(erode),
                    int(average), out)
    if not ident:
        back = np.empty_like(out)
        back[:, order] = out
        out = back
    return out
