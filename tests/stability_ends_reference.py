"""Numpy reference of the offline mode's end step (``ffaccel.stability._ends.straighten_end``),
written as loops over channels and frames: the tests check that the package gives the same
points (to 1e-9 face widths)."""

from __future__ import annotations

import numpy as np

from ffaccel.stability._rigid import from_channels, reference_shape, to_channels
from stability_bank_reference import noise_variance_reference

FRAMES, KAPPA, NOISE_FRAMES = 12, 0.35, 48


def straighten_end_reference(out: np.ndarray, det: np.ndarray, first: int, stop: int, floor: np.ndarray,
                             times: np.ndarray | None = None, frames: int = FRAMES) -> np.ndarray:
    """A copy of ``out`` (T, N, 2) with the last ``frames`` frames of the shot ``first:stop`` (up
    to its last finite one) straightened channel by channel."""
    out = out.copy()
    finite = [t for t in range(first, stop) if np.isfinite(out[t]).all()]
    if frames <= 0 or not finite:
        return out
    end = finite[-1]
    start = end - frames
    if start < first or not np.isfinite(out[start:end + 1]).all():
        return out
    rows = [t for t in range(max(first, end + 1 - 2 * NOISE_FRAMES), end + 1) if np.isfinite(det[t]).all()][-NOISE_FRAMES:]
    if len(rows) < 5:
        return out
    # the recent detections, then the smoothed tail, split with one reference shape
    pts = np.concatenate([det[rows], out[start:end + 1]])
    z = pts[..., 0] + 1j * pts[..., 1]
    m, size = reference_shape(z)
    both = to_channels(z, m, size)
    sd = np.sqrt(noise_variance_reference(both[:len(rows)], np.ones(len(rows), bool), floor))
    ch = both[len(rows):]
    tt = [float(k) for k in range(frames + 1)] if times is None else [float(times[start + k] - times[start]) for k in range(frames + 1)]
    new = ch.copy()
    for c in range(ch.shape[1]):
        slope = sum(tt[k] * (ch[k, c] - ch[0, c]) for k in range(frames + 1)) / sum(v * v for v in tt)
        line = [ch[0, c] + tt[k] * slope for k in range(frames + 1)]
        dev = float(np.median([abs(ch[k, c] - line[k]) for k in range(1, frames + 1)])) / (KAPPA * sd[c])
        w = min(max(2.0 - dev, 0.0), 1.0)
        for k in range(1, frames + 1):
            new[k, c] = ch[k, c] + w * (line[k] - ch[k, c])
    out[start + 1:end + 1] = from_channels(new[1:], m, size)
    return out
