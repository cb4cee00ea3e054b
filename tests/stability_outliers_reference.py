"""Numpy reference of the offline glitch test of ``stabilize_track``
(``ffaccel.stability.stabilize._outliers``, which runs ``_core.stab_outliers``).

This is the test as it was written before it moved to the compiled core; the tests check
that both flag the same frames.
"""

from __future__ import annotations

import numpy as np

from ffaccel.stability.stabilize import OUTLIER


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


def _edge_residuals(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T - 4, C): y[t] - the least-squares straight line in time through frames t + 1 .. t + 4,
    at time at[t] (the one-sided test of a shot's first frame, at every frame that has four
    later ones). The line's value at offset 0 through points at offsets tau is
    sum_k w_k y_k with w_k = 1/4 - mean(tau) (tau_k - mean(tau)) / sum (tau - mean(tau))^2;
    for equally spaced frames (1, 1/2, 0, -1/2)."""
    n = len(ch) - 4
    tau = np.stack([at[k + 1:k + 1 + n] - at[:n] for k in range(4)], axis=1)  # (n, 4)
    mt = (((tau[:, 0] + tau[:, 1]) + tau[:, 2]) + tau[:, 3]) * 0.25
    dev = tau - mt[:, None]
    sxx = ((dev[:, 0] * dev[:, 0] + dev[:, 1] * dev[:, 1]) + dev[:, 2] * dev[:, 2]) + dev[:, 3] * dev[:, 3]
    w = 0.25 - (mt / sxx)[:, None] * dev
    pred = ((w[:, 0:1] * ch[1:1 + n] + w[:, 1:2] * ch[2:2 + n]) + w[:, 2:3] * ch[3:3 + n]) + w[:, 3:4] * ch[4:4 + n]
    return ch[:n] - pred


def _edge_parabola_residuals(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T - 4, C): y[t] - the least-squares parabola in time through frames t + 1 .. t + 4, at
    time at[t] (the confirmation of the end frames' line test), solved per frame."""
    n = len(ch) - 4
    out = np.empty((n, ch.shape[1]))
    for t in range(n):
        tau = at[t + 1:t + 5] - at[t]
        a = np.stack([np.ones(4), tau, tau * tau], axis=1)
        w = a @ np.linalg.solve(a.T @ a, np.array([1.0, 0.0, 0.0]))
        out[t] = ch[t] - w @ ch[t + 1:t + 5]
    return out


#: the parabola confirmation's threshold, in its own robust stds (StabOutlierParams::end_curve)
END_CURVE = 2.0
#: the interior parabola test's scale grows with the head's speed (StabOutlierParams::speed_v0,
#: speed_reach): x sqrt(1 + (v / SPEED_V0)^2), v the median translation speed (channels 0
#: and 1, per frame time) over the kept frames within SPEED_REACH of the frame
SPEED_V0 = 0.13
SPEED_REACH = 3


def speed_factor(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T,) sqrt(1 + (v / SPEED_V0)^2) at each of the (kept) frames ``ch`` (T, C) at times
    ``at``: v the median, over the frames within SPEED_REACH of it, of the translation
    speed (central differences, one-sided at the ends); the upper median where the count is
    even. 1 everywhere with fewer than 2 channels or 2 frames."""
    t_len = len(ch)
    if ch.shape[1] < 2 or t_len < 2:
        return np.ones(t_len)
    lo = np.concatenate([[0], np.arange(t_len - 2), [t_len - 2]])
    hi = np.concatenate([[1], np.arange(2, t_len), [t_len - 1]])
    dt = at[hi] - at[lo]
    dx = (ch[hi, 0] - ch[lo, 0]) / dt
    dy = (ch[hi, 1] - ch[lo, 1]) / dt
    d = np.sqrt(dx * dx + dy * dy)
    v = np.empty(t_len)
    for i in range(t_len):
        w = np.sort(d[max(0, i - SPEED_REACH):min(t_len, i + SPEED_REACH + 1)])
        v[i] = w[len(w) // 2]
    q = v / SPEED_V0
    return np.sqrt(1.0 + q * q)


def outliers_reference(ch: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T,) bool: frames whose channels jump off their neighbours (detector glitches).

    ``ch`` (T, C) are the measured frames at frame times ``at`` (T,). Two tests
    must both fire, in the same channel, at more than ``OUTLIER`` robust
    standard deviations (1.4826 MAD of that test's values in that channel):

    - off the least-squares parabola in time through the frame's four nearest
      other frames: follows smooth motion (a fast nod), but a glitch next door
      pulls it;
    - off the median of the five frames around it: ignores up to two glitches
      in the window, but cuts the corners of fast motion.

    At the first and last kept frame the parabola would be extrapolated from
    the four next (previous) frames, whose noise it amplifies 3x (variance
    factor 7.75 for offsets 1..4): a glitch there had to be 15 noise stds off
    to be seen. There the first test is instead the deviation from the
    straight line through the four next (previous) frames, in units of its
    own robust std: 1.4826 MAD of that one-sided residual at every frame of
    the track, from both sides (so the curvature of the track's own motion,
    a shake, is in the scale), floored at the parabola test's scale.

    Where the head moves steadily the median of 5 is the frame itself, so that
    test's scale is at least half the first one's. Flagged frames are dropped
    and the tests repeated (3 passes at most; the scales stay those of the
    first pass). If more than half the frames would go, none does. The caller
    interpolates dropped frames, and extrapolates the trend of the nearest kept
    frames at the start or end of the shot (a detector that has just locked on
    can be noisier for a few frames).

    Of a run of flagged frames that reaches an end only the end frame goes.
    Where that gave frames back, one more pass tests the frames kept then (its
    flags stand if enough frames stay), and the run rule applies again.
    """
    t_len = len(ch)
    bad = np.zeros(t_len, bool)
    scales = None

    def test_pass() -> bool:  # one pass over the kept frames; flags into bad; whether any
        nonlocal scales
        keep = np.flatnonzero(~bad)
        if len(keep) < 5:
            return False
        dq = _quadratic_deviation(ch[keep], at[keep])
        dm = _median_deviation(ch[keep])
        if scales is None:
            sq = np.maximum(1.4826 * np.median(dq, axis=0), 1e-9 * (1.0 + np.abs(ch).max(axis=0)))
            # where the head moves steadily the median of 5 is the frame itself: floor its scale
            sm = np.maximum(1.4826 * np.median(dm, axis=0), 0.5 * sq)
            # the one-sided line test of the end frames: its residual from either side at
            # every frame (all kept on this first pass)
            both_sides = np.concatenate([_edge_residuals(ch, at), _edge_residuals(ch[::-1], -at[::-1])])
            se = np.maximum(1.4826 * np.median(np.abs(both_sides), axis=0), sq)
            curve = np.concatenate([_edge_parabola_residuals(ch, at), _edge_parabola_residuals(ch[::-1], -at[::-1])])
            sp = np.maximum(1.4826 * np.median(np.abs(curve), axis=0), sq)
            scales = (sq, sm, se, sp)
        tq = dq / scales[0] / speed_factor(ch[keep], at[keep])[:, None]
        k = ch[keep]
        # the line test only at the shot's own first / last frame (not at a kept frame that
        # became the end when its neighbour was dropped), and only where the one-sided
        # parabola test confirms it
        for end, (kk, tt) in enumerate(((k[:5], at[keep[:5]]), (k[::-1][:5], -at[keep[::-1][:5]]))):
            row = 0 if end == 0 else -1
            if keep[row] != (0 if end == 0 else t_len - 1):
                tq[row] = 0.0
                continue
            line = np.abs(_edge_residuals(kk, tt)[0]) / scales[2]
            bent = np.abs(_edge_parabola_residuals(kk, tt)[0]) / scales[3]
            tq[row] = np.where(bent > END_CURVE, line, 0.0)
        both = np.minimum(tq, dm / scales[1])
        new = np.any(both > OUTLIER, axis=1)
        bad[keep[new]] = True
        return bool(new.any())

    def end_runs() -> bool:  # a run of dropped frames reaching an end: only the end frame goes
        gave_back = False
        for side in (bad, bad[::-1]):
            run = len(side) if side.all() else int(np.argmin(side))
            side[1:run] = False
            gave_back |= run > 1
        return gave_back

    def kept_enough() -> bool:
        return (~bad).sum() >= max(5, t_len // 2)

    for _ in range(3):
        if not test_pass():
            break
    if not kept_enough():
        bad[:] = False  # mostly "glitches": no
    # where the rule gave frames back (a glitch next to the end pulled its neighbours into a
    # run that reached it), one more pass over the frames kept now, then the rule again
    if end_runs() and scales is not None:
        before = bad.copy()
        test_pass()
        if not kept_enough():
            bad[:] = before
        end_runs()
    return bad
