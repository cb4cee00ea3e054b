"""The streaming modes' parts (issue 13): the fixed-lag Kalman/RTS kernel against a matrix
reference, the causal filter's start-up and velocity takeover, the fixed-lag light level."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import _adaptive, _kalman, stabilize_track
from ffaccel.stability import _realdata as _rd
from ffaccel.stability import stabilizer as stab

FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])


def _reference_rts(y, q, r, dts, p0, v0):
    """Matrix Kalman filter + RTS smoother (textbook form) of one channel; None in y = missed."""
    x = np.array([y[0], 0.0])
    p = np.diag([p0, v0])
    xf, pf, xp, pp = [x], [p], [x], [p]
    for k in range(1, len(y)):
        dt = dts[k - 1]
        f = np.array([[1.0, dt], [0.0, 1.0]])
        g = np.array([[dt * dt / 2.0], [dt]])
        x1 = f @ x
        p1 = f @ p @ f.T + q * (g @ g.T)
        xp.append(x1)
        pp.append(p1)
        if y[k] is None:
            x, p = x1, p1
        else:
            h = np.array([[1.0, 0.0]])
            s = (h @ p1 @ h.T)[0, 0] + r
            gain = (p1 @ h.T) / s
            x = x1 + gain[:, 0] * (y[k] - x1[0])
            p = p1 - gain @ h @ p1
        xf.append(x)
        pf.append(p)
    xs = xf[-1]
    out = [xs[0]]
    for k in range(len(y) - 2, -1, -1):
        f = np.array([[1.0, dts[k]], [0.0, 1.0]])
        c = pf[k] @ f.T @ np.linalg.inv(pp[k + 1])
        xs = xf[k] + c @ (xs - xp[k + 1])
        out.append(xs[0])
    return out[::-1]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.floats(1e-4, 3.0), st.integers(0, 2**16), st.booleans())
def test_fixed_lag_kernel_equals_a_matrix_kalman_rts(n, q, seed, with_miss):
    rng = np.random.default_rng(seed)
    r = float(rng.uniform(0.1, 2.0))
    y = list(np.cumsum(rng.normal(0, 1, n)))
    if with_miss and n > 2:
        y[n // 2] = None
    dts = list(rng.uniform(0.5, 2.0, n - 1))
    p0, v0 = 0.25 * r, 1e-2
    ref = _reference_rts(y, q, r, dts, p0, v0)
    states = [_kalman.start(np.array([y[0]]), np.array([p0]), v0)]
    for k in range(1, n):
        obs = None if y[k] is None else np.array([y[k]])
        states.append(_kalman.step(states[-1], obs, np.array([q]), np.array([r]), dts[k - 1]))
    for t in range(n):
        got = _kalman.smooth(states[t:], dts[t:])[0]
        assert got == pytest.approx(ref[t], rel=1e-9, abs=1e-9)


def _face_track(shift: np.ndarray, width: float = 100.0) -> np.ndarray:
    return FACE5[None] * (width / 100.0) + np.array([640.0, 360.0]) + shift[:, None, :]


def _noisy(truth: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return truth + rng.normal(0, sigma * 0.9, (len(truth), 1, 2)) + rng.normal(0, sigma * 0.45, truth.shape)


def test_causal_stops_with_the_head_after_a_turn():
    # a sideways turn of 60 px over 30 frames (raised cosine), then still: bounded overshoot,
    # and the output settles with the head
    t = np.arange(120.0)
    u = np.clip((t - 30) / 30, 0, 1)
    shift = np.stack([60.0 * (0.5 - 0.5 * np.cos(np.pi * u)), 0 * t], axis=1)
    truth = _face_track(shift)
    for seed in (3, 4, 5):
        out = stabilize_track(_noisy(truth, 0.6, seed), mode="causal")
        err = np.abs(out[:, :, 0] - truth[:, :, 0]).mean(axis=1)
        # 2.0 px after the turn (0.6 px noise): 1.3 px before the follow bound (_adaptive.FOLLOW),
        # 1.76 with it. The bound pulls the state in at the turn's end and leaves its velocity,
        # so the settle drifts a little further on this synthetic turn; on the real tracks the
        # fast turns lose no jitter and less RMSE with it (docs/results/causal_bound.md)
        assert err[55:].max() < 3.5 and err[70:].max() < 2.0, (seed, err[55:].max(), err[70:].max())


def test_velocity_takeover_replaces_a_stale_velocity():
    # a smooth output still carrying the velocity of a motion that stopped, a detector that
    # sees none: after two frames running the output has the detector's velocity
    y = np.zeros(6)
    r = np.full(6, 0.02**2)
    flt = _adaptive.AdaptiveFilter(y, np.zeros(6), v0=1e-2, p0=0.25)
    for _ in range(30):
        flt.update(y, r, 1.0)
    flt.v = np.full(6, 0.05)  # stale: 2.5 noise stds per frame
    flt.update(y, r, 1.0)
    assert np.all(flt.v > 0.01)  # one frame is not enough
    flt.update(y, r, 1.0)
    assert np.allclose(flt.v, flt.vd, atol=0.01)
    off = _adaptive.AdaptiveFilter(y, np.zeros(6), v0=1e-2, p0=0.25)
    for _ in range(30):
        off.update(y, r, 1.0)
    off.v = np.full(6, 0.05)
    saved, _adaptive.VGATE = _adaptive.VGATE, 0.0
    try:
        off.update(y, r, 1.0)
        off.update(y, r, 1.0)
    finally:
        _adaptive.VGATE = saved
    assert np.all(off.v > 0.03)  # without the takeover the stale velocity stays


def test_causal_start_up_is_calm(monkeypatch):
    # the first frames of a shot: gains of a Kalman filter with a tight velocity prior (close to a
    # running mean) instead of a least-squares line's (about 4x larger)
    truth = _face_track(np.zeros((40, 2)))
    zs = [_noisy(truth, 1.0, seed) for seed in range(8)]

    def early_jitter() -> float:
        return float(np.mean([np.sqrt(np.mean(np.diff(stabilize_track(z, mode="causal")[:30], 2, axis=0) ** 2))
                              for z in zs]))

    calm = early_jitter()
    monkeypatch.setattr(stab, "START_V0", 1e6)  # ~ a diffuse velocity prior: the least-squares line
    monkeypatch.setattr(stab, "START_P0", 1.0)
    assert calm < 0.6 * early_jitter()


def test_fixed_lag_light_level_follows_a_fast_nod(monkeypatch):
    # 1.5 Hz nod, 15 % of the face width: the light level takes the fast part
    t = np.arange(100.0)
    env = np.sin(np.pi * np.clip(t - 20, 0, 60) / 60) ** 2
    shift = np.stack([0 * t, 15.0 * np.sin(2 * np.pi * 1.5 * t / 30.0) * env], axis=1)
    truth = _face_track(shift)
    z = _noisy(truth, 0.7, 11)

    def worst() -> float:
        out = stabilize_track(z, mode="fixed_lag", lag=3)
        return float(np.sqrt(((out[20:80] - truth[20:80]) ** 2).sum(-1)).max())

    blended = worst()
    monkeypatch.setattr(stab, "FL_GATE", (1e9, 2e9))  # never blend: the adaptive level alone
    assert blended < 0.8 * worst()
    assert blended < 2.5  # px


def test_fixed_lag_gate_judges_recent_frames_not_one(monkeypatch):
    # hand-held shake (1.1-2.7 Hz, 2-3.5 % of the face width) under rigid noise: the light level
    # is needed all along; gated on each frame's own departure it drops in and out with the noise
    t = np.arange(96.0)

    def ratio() -> float:
        out = []
        for seed in range(8):
            ph = np.random.default_rng(seed).uniform(0, 2 * np.pi, 4)
            shift = np.stack([3.0 * np.sin(2 * np.pi * 1.3 * t / 30 + ph[0]) + 2.5 * np.sin(2 * np.pi * 2.2 * t / 30 + ph[1]),
                              3.5 * np.sin(2 * np.pi * 1.1 * t / 30 + ph[2]) + 2.0 * np.sin(2 * np.pi * 2.7 * t / 30 + ph[3])], axis=1)
            truth = _face_track(shift)
            z = _noisy(truth, 0.7, seed)
            out.append(_rd.jitter(stabilize_track(z, mode="fixed_lag"), truth) / _rd.jitter(stabilize_track(z), truth))
        return float(np.mean(out))

    recent = ratio()
    monkeypatch.setattr(stab, "FL_MEMORY", 0.0)  # each frame on its own
    assert recent < 0.95 * ratio()


def test_fixed_lag_weight_holds_in_the_last_frames():
    # the last ``lag`` frames of a clip have too few later frames to choose a level: on a still
    # face they must not jump (the light level's noisier end estimate does not blend in)
    truth = _face_track(np.zeros((80, 2)))
    out = stabilize_track(_noisy(truth, 1.0, 13), mode="fixed_lag", lag=3)
    steps = np.abs(np.diff(out[60:], axis=0)).max(axis=(1, 2))
    assert steps[-3:].max() < 0.2, steps


# ----------------------------------------------------------------- real MTCNN tracks (regression bounds)
_REAL = sorted((__import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "real_tracks").glob("*.npz"))


def _real(name_start: str) -> list:
    from ffaccel.stability import _realdata as rd

    out = []
    for p in _REAL:
        if p.stem.startswith(name_start):
            with np.load(p) as d:
                out.append((p.stem, d["detected"].astype(np.float64), d["truth"].astype(np.float64),
                            [int(c) for c in d["cuts"]], rd))
    return out


@pytest.mark.parametrize("scenario", ["still", "cut", "nod"])
def test_real_tracks_streaming_jitter_bounds(scenario):
    # today (e202cb1): causal raw/jitter 16-17 (still), 10-12 (cut), 3.7-3.8 (nod); fixed-lag
    # within 1.0-2.4x offline's. Bounds with a margin: a regression fails, noise does not.
    floor = {"still": 10.0, "cut": 8.0, "nod": 3.0}[scenario]
    for name, z, truth, cuts, rd in _real(scenario):
        raw = rd.jitter(z, truth, cuts)
        causal = rd.jitter(stabilize_track(z, mode="causal"), truth, cuts)
        assert raw / causal >= floor, (name, raw / causal)
        fixed = rd.jitter(stabilize_track(z, mode="fixed_lag"), truth, cuts)
        offline = rd.jitter(stabilize_track(z), truth, cuts)
        assert fixed / offline <= 3.0, (name, fixed / offline)


def test_real_tracks_cut_recovery_and_missed_frames():
    for name, z, truth, cuts, rd in _real("cut"):
        assert rd.recovery(stabilize_track(z, mode="fixed_lag"), truth, cuts[0]) == 0, name
    for name, z, truth, cuts, rd in _real("occlusion"):
        missed = ~np.all(np.isfinite(z), axis=(1, 2))
        for mode in ("causal", "fixed_lag"):
            assert rd.miss_jump(stabilize_track(z, mode=mode), truth, missed) <= 2.0, (name, mode)


def test_the_causal_residual_floor_is_its_own(monkeypatch):
    # RESID_LIGHTEST_CAUSAL sets the causal mode's residual (expression) floor; the fixed-lag mode keeps
    # RESID_LIGHTEST (issue 13, branch stab-causal2)
    truth = _face_track(np.zeros((80, 2)))
    z = _noisy(truth, 1.2, 11)
    causal, lagged = stabilize_track(z, mode="causal"), stabilize_track(z, mode="fixed_lag", lag=3)
    monkeypatch.setattr(stab, "RESID_LIGHTEST_CAUSAL", stab.RESID_LIGHTEST)
    assert not np.allclose(stabilize_track(z, mode="causal"), causal, atol=1e-6)
    assert np.array_equal(stabilize_track(z, mode="fixed_lag", lag=3), lagged)
    monkeypatch.undo()
    monkeypatch.setattr(stab, "RESID_LIGHTEST", 2)
    assert np.array_equal(stabilize_track(z, mode="causal"), causal)
