"""Metrics and noise analysis for 5-point tracks with a known truth, in face-width units
(numpy only); shared by ``benchmarks/bench_stability_real.py`` and the tests.

All errors are divided by the face width F of their frame (2 x the distance between the
two eye points of the truth), so clips of one scene at different resolutions compare.
Percentages are % of F.

    jitter     RMS over points, coordinates and frames of the second time difference of
               (output - truth) / F, in % F; differences that straddle a cut or touch a
               frame without output are left out. I.i.d. noise of std s gives s * sqrt(6).
    lag        the time shift tau (frames, positive = the output is behind) that minimises
               the variance over frames (the mean offset of each point removed: a constant
               bias is not a delay) of output(t) - truth(t - tau) where the truth moves
               faster than LAG_MIN_SPEED F/frame (truth linearly interpolated in time; a grid
               of 0.1 frame over [-4, 4], refined to 0.01 frame); NaN where fewer than 5 such frames
               or where the velocity is constant (a pan: a delay is then a constant offset).
    rmse       sqrt(mean over frames with output of the mean over points of |e|^2), % F.
    worst      largest per-frame RMS error over a frame range, % F.
    recovery   frames after a cut until the per-frame RMS error is <= RECOVERY_TOL % F.
    jitter past cuts  jitter without the second differences that touch a shot's first
               frame as well (``jitter_past_cuts``): a diagnostic for cut clips, where the
               detector's first detection of a new shot (a whole-frame search) can be several
               % F off and every method that recovers within a frame must jump after it.
    tail spikes tail frames where the aligned crop's corners move by more than SPIKE_MOVE
               % F while the truth's move by less than SPIKE_STILL % F.
    still moves the same count over the frames of a still clip away from its ends, per TAIL
               frames: what the method's output does at rest where the clip does not end (the
               filtered detector noise). On the real MTCNN tracks every method's output moves
               by more than SPIKE_MOVE on about a quarter of such frames, so the tail count
               alone measures that noise floor, not an end-of-clip pop.
    tail excess tail spikes minus still moves (same method, photo and scale): the crop moves
               that the end of the clip, or the end of a motion before it, adds.
    miss jump  largest per-frame RMS, over missed frames and the frame after each run of
               them, of (output step - truth step) / F, % F; inf when a missed frame has
               no output.

Noise (``noise_split``): the per-frame error e (5, 2) is split by least squares into a
translation, the rest of a similarity (scale and rotation about the points' centroid)
and what no similarity explains (the per-point residual). On frame-to-frame differences
of the error (so a constant bias does not count), independent noise on the 10
coordinates gives shares of 2/10 (translation) and 4/10 (similarity).
"""

from __future__ import annotations

import numpy as np

from ._face import crop_corners_in_image, similarity_fit

LAG_MIN_SPEED = 0.004  # F per frame
RECOVERY_TOL = 3.0  # % F
SPIKE_MOVE = 0.2  # % F
SPIKE_STILL = 0.02  # % F
TAIL = 12

# ArcFace's 112x112 five-point template (the FaceFusion / insightface alignment target).
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def face_width(truth: np.ndarray) -> np.ndarray:
    """(T,) face width F per frame: 2 x |eye1 - eye0| of a (T, 5, 2) truth track, px."""
    return 2.0 * np.linalg.norm(truth[:, 1] - truth[:, 0], axis=1)


def _valid(x: np.ndarray) -> np.ndarray:
    return np.all(np.isfinite(x), axis=(1, 2))


def normalised_error(output: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T, 5, 2) (output - truth) / F, NaN where there is no output."""
    return (output - truth) / face_width(truth)[:, None, None]


def jitter(output: np.ndarray, truth: np.ndarray, cuts=()) -> float:
    e = normalised_error(output, truth)
    d2 = e[2:] - 2 * e[1:-1] + e[:-2]
    ok = _valid(d2)
    for c in cuts:  # d2[i] uses frames i..i+2: drop those that span c-1 -> c
        ok[max(c - 2, 0) : c] = False
    return float(100 * np.sqrt(np.mean(d2[ok] ** 2))) if ok.any() else float("nan")


def jitter_past_cuts(output: np.ndarray, truth: np.ndarray, cuts=()) -> float:
    """``jitter`` leaving out, besides the differences that straddle each cut c, the one
    that starts at c (frames c, c+1, c+2): what the rest of the new shot looks like."""
    return jitter(output, truth, [*cuts, *(c + 1 for c in cuts)])


def rmse(output: np.ndarray, truth: np.ndarray) -> float:
    e = normalised_error(output, truth)
    ok = _valid(e)
    return float(100 * np.sqrt(np.mean(np.sum(e[ok] ** 2, axis=2)))) if ok.any() else float("nan")


def per_frame_error(output: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T,) RMS over the points of |output - truth| / F, % F (NaN without output)."""
    e = normalised_error(output, truth)
    return 100 * np.sqrt(np.mean(np.sum(e**2, axis=2), axis=1))


def worst(output: np.ndarray, truth: np.ndarray, frames: slice) -> float:
    err = per_frame_error(output, truth)[frames]
    return float(np.inf) if np.any(~np.isfinite(err)) else float(err.max())


def lag(output: np.ndarray, truth: np.ndarray, cuts=()) -> float:
    t_len = len(truth)
    fw = face_width(truth)
    speed = np.zeros(t_len)
    speed[1:-1] = np.max(np.linalg.norm(truth[2:] - truth[:-2], axis=2), axis=1) / 2 / fw[1:-1]
    sel = (speed > LAG_MIN_SPEED) & _valid(output)
    sel[:4] = sel[-4:] = False
    for c in cuts:
        sel[max(c - 5, 0) : c + 5] = False
    idx = np.nonzero(sel)[0]
    if len(idx) < 5:
        return float("nan")
    vel = (truth[idx + 1] - truth[idx - 1]) / 2 / fw[idx, None, None]
    if np.mean(vel.var(axis=0)) < 0.05 * np.mean(vel**2):
        return float("nan")  # constant velocity: a delay is indistinguishable from a bias

    def cost(tau: float) -> float:
        src = idx - tau
        lo = np.clip(np.floor(src).astype(int), 0, t_len - 2)
        w = (src - lo)[:, None, None]
        diff = (output[idx] - ((1 - w) * truth[lo] + w * truth[lo + 1])) / fw[idx, None, None]
        diff -= diff.mean(axis=0)  # a constant detector bias is not a delay
        return float(np.mean(diff**2))

    coarse = np.arange(-4.0, 4.0001, 0.1)
    best = float(coarse[int(np.argmin([cost(t) for t in coarse]))])
    fine = best + np.arange(-0.1, 0.10001, 0.01)
    best = float(fine[int(np.argmin([cost(t) for t in fine]))])
    return best


def recovery(output: np.ndarray, truth: np.ndarray, cut: int) -> float:
    err = per_frame_error(output, truth)[cut:]
    good = np.nonzero(np.isfinite(err) & (err <= RECOVERY_TOL))[0]
    return float(good[0]) if len(good) else float("inf")


def crop_corners(points: np.ndarray, crop: float = 256.0) -> np.ndarray:
    """(4, 2) image positions of the corners of the aligned crop (ArcFace template scaled to ``crop``)."""
    return crop_corners_in_image(similarity_fit(points, ARCFACE_112 * crop / 112.0), crop)


def _crop_moves(output: np.ndarray, truth: np.ndarray, frames: range) -> int:
    """Frames i of ``frames`` (>= 1) where the crop moves by more than SPIKE_MOVE % F from frame
    i - 1 while the truth's moves by less than SPIKE_STILL % F; a frame without output counts."""
    fw = face_width(truth)
    spikes = 0
    for i in frames:
        if not (np.all(np.isfinite(output[i])) and np.all(np.isfinite(output[i - 1]))):
            spikes += 1  # no output is a visible failure too
            continue
        moved = np.abs(crop_corners(output[i]) - crop_corners(output[i - 1])).max() / fw[i] * 100
        moved_true = np.abs(crop_corners(truth[i]) - crop_corners(truth[i - 1])).max() / fw[i] * 100
        spikes += int(moved > SPIKE_MOVE and moved_true < SPIKE_STILL)
    return spikes


def tail_spikes(output: np.ndarray, truth: np.ndarray, tail: int = TAIL) -> int:
    t_len = len(truth)
    return _crop_moves(output, truth, range(t_len - tail, t_len))


def still_moves(output: np.ndarray, truth: np.ndarray, start: int = TAIL, tail: int = TAIL) -> float:
    """``tail_spikes``' count over frames ``start`` .. T - ``tail`` - 1 (the truth still there),
    per ``tail`` frames: the method's rate of such crop moves at rest, away from the clip's ends."""
    frames = range(max(start, 1), len(truth) - tail)
    return float(_crop_moves(output, truth, frames) * tail / len(frames)) if len(frames) else float("nan")


def miss_jump(output: np.ndarray, truth: np.ndarray, missed: np.ndarray) -> float:
    """See the module doc; NaN when the clip has no missed frame after its first detection."""
    missed = np.asarray(missed, bool).copy()
    first = np.argmax(~missed)
    missed[:first] = False
    if not missed.any():
        return float("nan")
    check = missed.copy()
    check[1:] |= missed[:-1]  # the frame after a missed one
    check[0] = False
    if not np.all(_valid(output[missed])):
        return float("inf")
    fw = face_width(truth)
    step = (output[1:] - output[:-1]) - (truth[1:] - truth[:-1])
    err = 100 * np.sqrt(np.mean(np.sum(step**2, axis=2), axis=1)) / fw[1:]
    vals = err[check[1:]]
    vals = vals[np.isfinite(vals)]
    return float(vals.max()) if len(vals) else float("nan")


# ----------------------------------------------------------------------------- noise


def _design(points: np.ndarray, kind: str) -> np.ndarray:
    """(10, k) basis of translation / similarity / affine displacements of 5 points."""
    c = points - points.mean(axis=0)
    cols = [np.tile([1.0, 0.0], 5), np.tile([0.0, 1.0], 5)]
    if kind in ("similarity", "affine"):
        cols.append(c.reshape(-1))  # scale
        cols.append(np.column_stack([-c[:, 1], c[:, 0]]).reshape(-1))  # rotation
    if kind == "affine":
        cols.append(np.column_stack([c[:, 0], -c[:, 1]]).reshape(-1))
        cols.append(np.column_stack([c[:, 1], c[:, 0]]).reshape(-1))
    return np.column_stack(cols)


def project(err: np.ndarray, points: np.ndarray, kind: str) -> np.ndarray:
    """Least-squares part of each (5, 2) error frame that a ``kind`` motion explains."""
    out = np.empty_like(err)
    for t in range(len(err)):
        a = _design(points[t], kind)
        coef = np.linalg.lstsq(a, err[t].reshape(-1), rcond=None)[0]
        out[t] = (a @ coef).reshape(5, 2)
    return out


def noise_split(detected: np.ndarray, truth: np.ndarray, cuts=()) -> dict:
    """Shares of the frame-to-frame error energy (see the module doc) and noise levels.

    Returns a dict: n (frame pairs used), translation, similarity, affine (shares of the
    energy of the frame-to-frame error difference), sigma_px and sigma_pct (per-coordinate
    noise std, estimated as RMS(difference) / sqrt(2), in px and % F), rho1 (lag-1
    autocorrelation of the error about its clip mean, pooled over coordinates).
    """
    e = detected - truth
    d = e[1:] - e[:-1]
    ok = _valid(d)
    for c in cuts:
        ok[c - 1] = False
    d, pts = d[ok], truth[1:][ok]
    res = {"n": int(ok.sum())}
    if res["n"] == 0:
        return res
    total = float(np.sum(d**2))
    for kind in ("translation", "similarity", "affine"):
        res[kind] = float(np.sum(project(d, pts, kind) ** 2) / total)
    fw = face_width(truth)[1:][ok]
    res["sigma_px"] = float(np.sqrt(np.mean(d**2) / 2))
    res["sigma_pct"] = float(100 * np.sqrt(np.mean((d / fw[:, None, None]) ** 2) / 2))
    ev = _valid(e)
    x = e[ev] - e[ev].mean(axis=0)
    if len(x) > 2:
        num = np.sum(x[1:] * x[:-1])
        res["rho1"] = float(num / np.sum(x**2))
    return res


def spectrum(series: np.ndarray, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """One-sided periodogram of a (T, K) series (mean and linear trend removed), averaged over K.

    Returns (frequencies in Hz, power per Hz, in the series' units squared)."""
    x = np.asarray(series, float)
    t = np.arange(len(x))
    coef = np.polyfit(t, x, 1)
    x = x - (np.outer(t, coef[0]) + coef[1])
    win = np.hanning(len(x))[:, None]
    spec = np.abs(np.fft.rfft(x * win, axis=0)) ** 2 / (fps * np.sum(win**2))
    spec[1:-1] *= 2
    return np.fft.rfftfreq(len(x), 1 / fps), spec.mean(axis=1)


def band_ratio(freq: np.ndarray, power: np.ndarray, low: float = 3.0, high: float = 10.0) -> float:
    """Mean power below ``low`` Hz (DC left out) over mean power above ``high`` Hz: 1 for white
    noise, > 1 for noise that drifts (red), < 1 for noise that alternates (blue)."""
    lo = power[(freq > 0) & (freq < low)]
    hi = power[freq > high]
    return float(np.mean(lo) / np.mean(hi))
