"""What a fixed-lag filter with ``lag`` frames of look-ahead can reach on the real tracks,
measured against the truth (issue 13's fixed-lag goal: jitter <= 1.3x the offline mode's).

Two families, each tuned with the truth (so the figures are what the family can do at best,
not what a self-tuning filter gets):

- ``kalman_fixed_lag``: a Kalman filter of a polynomial motion model (order 1: random-walk
  position; 2: constant velocity; 3: constant acceleration) at one constant level
  ``q / r``, with a fixed-lag Rauch-Tung-Striebel smoother over ``lag`` frames (the
  augmented state: the estimates of the ``lag`` frames before the newest are part of the
  state and every update revises them). Per coordinate, in units of the clip's face
  width; a cut restarts it, a missed frame predicts without an update. The output is the
  full clip, as the benchmark scores the modes.
- ``fir_design`` / ``fir_fit`` / ``fir_apply``: any linear time-invariant filter with
  ``past`` past taps and ``lag`` future taps whose taps sum to 1 (a still face stays put),
  fitted in-sample by least squares to minimise ``jitter^2 + lam * MSE`` against the truth
  (each clip weighted by the offline mode's jitter and MSE on the same frames, so the fit
  minimises ratios, as the goal is stated). Scored on the frames whose whole window lies
  inside one shot and is measured (the interior), against the offline mode on the same
  frames.
"""

from __future__ import annotations

import math

import numpy as np

from ffaccel.stability import _realdata as rd

LEVELS = 10.0 ** np.arange(-6.0, 2.01, 0.5)  # q / r, as the offline bank's
P0, V0, A0 = 1.0, 1e-2, 1e-4  # start of a shot: position, velocity, acceleration variance (noise units)


def _model(order: int, lag: int, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Transition and process-noise shape (per unit q) of the augmented state
    (x, v, a)[:order] + (x_{t-1}, ..., x_{t-lag})."""
    dim = order + lag
    f = np.zeros((dim, dim))
    for i in range(order):
        for k in range(i, order):
            f[i, k] = dt ** (k - i) / math.factorial(k - i)
    if lag:
        f[order, 0] = 1.0
        for k in range(order + 1, dim):
            f[k, k - 1] = 1.0
    g = np.zeros(dim)
    for i in range(order):
        g[i] = dt ** (order - i) / math.factorial(order - i)
    return f, np.outer(g, g)


def kalman_fixed_lag(det: np.ndarray, face_width: float, cuts, order: int, level: float, lag: int) -> np.ndarray:
    """(T, N, 2) px -> (T, N, 2): the constant-level fixed-lag Kalman smoother (module doc).

    Frames before a shot's first detection stay NaN; the last ``lag`` frames of a shot get
    the estimates that the shot's last state holds for them (fewer later frames)."""
    t_len, n, _ = det.shape
    y = det.reshape(t_len, -1) / face_width
    out = np.full_like(y, np.nan)
    starts = sorted({0, *[int(c) for c in cuts if 0 < c < t_len]}) + [t_len]
    f, qs = _model(order, lag)
    q = level * qs
    dim = order + lag
    for a, b in zip(starts[:-1], starts[1:]):
        x = p = None
        newest = first = None
        for t in range(a, b):
            meas = bool(np.all(np.isfinite(y[t])))
            if x is None:
                if not meas:
                    continue
                first = t
                x = np.zeros((dim, y.shape[1]))
                x[0] = y[t]
                x[order:] = y[t]
                p = np.zeros((dim, dim))
                p[0, 0] = P0
                if order > 1:
                    p[1, 1] = V0
                if order > 2:
                    p[2, 2] = A0
                for k in range(order, dim):
                    p[k, :], p[:, k] = p[0, :], p[:, 0]
            else:
                x = f @ x
                p = f @ p @ f.T + q
                if meas:
                    s = p[0, 0] + 1.0
                    k = p[:, 0] / s
                    x = x + np.outer(k, y[t] - x[0])
                    p = p - np.outer(k, p[0])
            newest = t
            if t - lag >= first and lag:
                out[t - lag] = x[order + lag - 1]
            elif not lag:
                out[t] = x[0]
        if newest is not None:
            for back in range(min(lag, newest - first + 1)):
                out[newest - back] = x[0] if back == 0 else x[order + back - 1]
    return out.reshape(t_len, n, 2) * face_width


def _interior(det: np.ndarray, cuts, past: int, lag: int) -> np.ndarray:
    """(T,) bool: frames whose window [t - past, t + lag] is inside one shot and measured."""
    t_len = len(det)
    ok = np.all(np.isfinite(det), axis=(1, 2))
    shot = np.zeros(t_len, int)
    for c in cuts:
        shot[int(c):] += 1
    val = np.zeros(t_len, bool)
    for t in range(past, t_len - lag):
        w = slice(t - past, t + lag + 1)
        val[t] = bool(ok[w].all() and (shot[w] == shot[t]).all())
    return val


def fir_design(det: np.ndarray, truth: np.ndarray, cuts, past: int, lag: int) -> dict:
    """Least-squares pieces of one clip: the error of the filtered output over the interior is
    ``B + A @ h`` (per frame, point and coordinate, in face widths), h the taps other than the
    centre one (which is 1 - sum(h)); ``B2 + A2 @ h`` its second time difference."""
    fw = rd.face_width(truth)
    val = _interior(det, cuts, past, lag)
    ts = np.nonzero(val)[0]
    ks = [k for k in range(-past, lag + 1) if k != 0]
    b = ((det[ts] - truth[ts]) / fw[ts, None, None]).reshape(len(ts), -1)
    a = np.zeros((len(ts), b.shape[1], len(ks)))
    for i, k in enumerate(ks):
        a[:, :, i] = ((det[ts + k] - det[ts]) / fw[ts, None, None]).reshape(len(ts), -1)
    tri = np.nonzero(val[:-2] & val[1:-1] & val[2:])[0]
    pos = np.full(len(det), -1)
    pos[ts] = np.arange(len(ts))
    i0 = pos[tri]
    return {"B": b, "A": a, "B2": b[i0 + 2] - 2 * b[i0 + 1] + b[i0], "A2": a[i0 + 2] - 2 * a[i0 + 1] + a[i0],
            "ts": ts, "tri": tri, "taps": ks}


def interior_scores(out: np.ndarray, truth: np.ndarray, d: dict) -> tuple[float, float]:
    """(jitter, RMSE) in % F of an output track over a design's interior frames."""
    fw = rd.face_width(truth)
    e = ((out - truth) / fw[:, None, None]).reshape(len(fw), -1)
    t = d["tri"]
    e2 = e[t + 2] - 2 * e[t + 1] + e[t]
    return _scores(e[d["ts"]], e2)


def _scores(e: np.ndarray, e2: np.ndarray) -> tuple[float, float]:
    jit = float(100 * np.sqrt(np.mean(e2**2)))
    rmse = float(100 * np.sqrt(np.mean(np.sum(e.reshape(len(e), -1, 2) ** 2, axis=2))))
    return jit, rmse


def fir_fit(designs: list, w_jitter: list, w_mse: list, lam: float) -> np.ndarray:
    """Taps (without the centre one) minimising sum_clips w_j * mean(e2^2) + lam * w_m * mean(e^2)."""
    k = designs[0]["A"].shape[-1]
    g = np.zeros((k, k))
    rhs = np.zeros(k)
    for d, wj, wm in zip(designs, w_jitter, w_mse):
        a2, b2 = d["A2"].reshape(-1, k), d["B2"].reshape(-1)
        a1, b1 = d["A"].reshape(-1, k), d["B"].reshape(-1)
        g += wj * (a2.T @ a2) / len(b2) + lam * wm * (a1.T @ a1) / len(b1)
        rhs += wj * (a2.T @ b2) / len(b2) + lam * wm * (a1.T @ b1) / len(b1)
    return -np.linalg.solve(g + 1e-12 * np.trace(g) / k * np.eye(k), rhs)


def fir_apply(d: dict, h: np.ndarray) -> tuple[float, float]:
    """(jitter, RMSE) in % F of the taps ``h`` on a design's interior frames."""
    return _scores(d["B"] + d["A"] @ h, d["B2"] + d["A2"] @ h)


def fir_filter(det: np.ndarray, h: np.ndarray, taps: list, t: int) -> np.ndarray:
    """Output of the taps at frame ``t`` (for tests): sum_k h_k y[t + k] + (1 - sum h) y[t]."""
    out = det[t] * (1.0 - float(np.sum(h)))
    for hk, k in zip(h, taps):
        out = out + hk * det[t + k]
    return out
