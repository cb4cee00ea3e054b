"""Numpy reference of ``stabilize_track``'s offline mode: the segment pipeline as it was
before its steps moved to the compiled core (rigid split, glitch test, noise level, level
bank), built from the numpy references of those steps. The tests check that the package
gives the same points (to 1e-9 face widths)."""

from __future__ import annotations

import numpy as np

from ffaccel.stability import stabilize
from ffaccel.stability._cuts import EXCURSION, MOVE, SHAPE, TURN, ZOOM, cut_flags
from ffaccel.stability._rigid import from_channels, reference_shape, to_channels
from ffaccel.stability.stabilize import _FLOOR_RESID, _FLOOR_RIGID, _RESID_LIGHTEST
from stability_bank_reference import noise_variance_reference, smooth_channels_reference
from stability_ends_reference import straighten_end_reference
from stability_outliers_reference import outliers_reference


def offline_segment_reference(z: np.ndarray, valid: np.ndarray, times: np.ndarray | None) -> np.ndarray:
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
    bad = outliers_reference(ch_valid, frame_at)
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
    # before the first / after the last kept frame (a dropped glitch): the straight line
    # through the nearest 4 kept frames, not a held value (a pan would lag)
    for side, sel in ((0, grid < at[0] - 1e-6), (1, grid > at[-1] + 1e-6)):
        if sel.any() and len(at) >= 2:
            near = slice(0, min(4, len(at))) if side == 0 else slice(max(len(at) - 4, 0), len(at))
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
    r = noise_variance_reference(ch, measured, floor)
    lightest = np.zeros(n_ch, np.intp)
    lightest[4:] = _RESID_LIGHTEST
    sm = smooth_channels_reference(ch, r, lightest)
    if times is not None:
        back = np.empty((len(span), n_ch))
        at_span = (times[first:last + 1] - times[first]) / dt
        for k in range(n_ch):
            back[:, k] = np.interp(at_span, grid, sm[:, k])
        sm = back
    out[first:last + 1] = from_channels(sm, m, size)
    return out


def _back(z: np.ndarray, p: int, pp: int | None, b: int) -> bool:
    """Frame ``b`` passes the cut rule's four tests against frame ``p`` (velocity from
    ``pp`` when given), written out in numpy from the rule's description (_cuts' doc)."""
    rows = [p, b] if pp is None else [pp, p, b]
    f = z[rows]
    c = f.mean(axis=1)
    cen = f - c[:, None]
    s = np.sqrt((np.abs(cen) ** 2).mean(axis=1))
    u = cen / s[:, None]
    cp, sp, up, cb, sb, ub = c[-2], s[-2], u[-2], c[-1], s[-1], u[-1]
    pred = cp if pp is None else cp + (cp - c[0]) * (b - p) / (p - pp)
    if abs(cb - pred) > MOVE * sp * np.sqrt(b - p) or abs(np.log(sb / sp)) > np.log(ZOOM):
        return False
    a = np.sum(np.conj(up) * ub) / len(up)
    if a == 0 or abs(np.angle(a)) > TURN:
        return False
    return bool(np.sqrt(np.mean(np.abs(ub - a / abs(a) * up) ** 2)) <= SHAPE)


def excursions_reference(z: np.ndarray, valid: np.ndarray, starts: list[int]) -> list[tuple[int, int]]:
    """Runs [a, b) between shot starts at most EXCURSION frames apart that end back where
    the face was before a (``_cuts.excursions``' rule), searched pair by pair."""
    runs: list[tuple[int, int]] = []
    done = -1
    for i, a in enumerate(starts):
        if a <= done:
            continue
        measured = [t for t in range(a) if valid[t]]
        if not measured:
            continue
        p = measured[-1]
        pp = measured[-2] if len(measured) > 1 and p not in starts else None
        for b in starts[i + 1:]:
            if b - a > EXCURSION:
                break
            if _back(z, p, pp, b):
                runs.append((a, b))
                done = b
                break
    return runs


def stabilize_offline_reference(landmarks, *, timestamps=None, cuts=None, end_frames=12) -> np.ndarray:
    """``stabilize_track(landmarks, mode="offline", ...)`` with the numpy steps."""
    arr = stabilize._check_landmarks(landmarks)
    t_len, n, _ = arr.shape
    times = stabilize._check_timestamps(timestamps, t_len)
    given = stabilize._check_cuts(cuts, t_len)
    z = arr[..., 0] + 1j * arr[..., 1]
    valid = ~np.isnan(arr[:, 0, 0])
    starts = cut_flags(z, valid) if given is None else given
    if given is None:  # detector excursions become missed frames, then the shots again
        runs = excursions_reference(z, valid, starts)
        if runs:
            arr = arr.copy()
            for a, b in runs:
                arr[a:b] = np.nan
            z = arr[..., 0] + 1j * arr[..., 1]
            valid = ~np.isnan(arr[:, 0, 0])
            starts = cut_flags(z, valid)
    bounds = [0, *starts, t_len]
    out = np.empty((t_len, n, 2))
    floor = np.full(4 + 2 * n, _FLOOR_RESID)
    floor[:4] = _FLOOR_RIGID
    for a, b in zip(bounds[:-1], bounds[1:]):
        out[a:b] = offline_segment_reference(z[a:b], valid[a:b], None if times is None else times[a:b])
        out = straighten_end_reference(out, arr, a, b, floor, times, end_frames)
    return out
