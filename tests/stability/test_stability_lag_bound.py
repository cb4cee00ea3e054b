"""The maths of benchmarks/real/lag_bound.py (the fixed-lag bounds of
benchmarks/bench_fixed_lag_bound.py), against independent references: the constant-level
fixed-lag Kalman smoother equals the batch least-squares (Gaussian posterior) estimate from
the frames up to ``lag`` after it; the FIR design's error terms equal an explicitly
filtered track's; the fitted taps are the least-squares optimum."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("lag_bound", ROOT / "benchmarks" / "real" / "lag_bound.py")
lb = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(lb)


def _batch(y: np.ndarray, order: int, level: float, upto: int, frame: int) -> np.ndarray:
    """Posterior mean of position ``frame`` given the measured rows of y[:upto + 1] (y (T, K), NaN
    rows missed; y[0] measured): unknowns are the first frame's state (prior mean (y0, 0, 0),
    variances (P0, V0, A0)) and one white increment of the highest derivative per step
    (variance ``level``); measurements of the position with unit variance after the first."""
    n_u = upto
    dim = order + n_u
    f = np.zeros((order, order))
    for i in range(order):
        for k in range(i, order):
            f[i, k] = 1.0 / math.factorial(k - i)
    g = np.array([1.0 / math.factorial(order - i) for i in range(order)])
    # state_k = F^k s0 + sum_{j<k} F^(k-1-j) g u_j: position row as a linear map of (s0, u)
    rows = np.zeros((upto + 1, dim))
    for k in range(upto + 1):
        rows[k, :order] = np.linalg.matrix_power(f, k)[0]
        for j in range(k):
            rows[k, order + j] = (np.linalg.matrix_power(f, k - 1 - j) @ g)[0]
    prior_sd = np.array([lb.P0, lb.V0, lb.A0])[:order] ** 0.5
    a_rows, b_rows = [], []
    mean0 = np.zeros((order, y.shape[1]))
    mean0[0] = y[0]
    for i in range(order):  # prior of s0
        r = np.zeros(dim)
        r[i] = 1.0 / prior_sd[i]
        a_rows.append(r)
        b_rows.append(mean0[i] / prior_sd[i])
    for j in range(n_u):  # increments
        r = np.zeros(dim)
        r[order + j] = 1.0 / level**0.5
        a_rows.append(r)
        b_rows.append(np.zeros(y.shape[1]))
    for k in range(1, upto + 1):
        if np.all(np.isfinite(y[k])):
            a_rows.append(rows[k])
            b_rows.append(y[k])
    sol = np.linalg.lstsq(np.array(a_rows), np.array(b_rows), rcond=None)[0]
    return rows[frame] @ sol


@settings(max_examples=25, deadline=None)
@given(order=st.integers(1, 3), level=st.sampled_from([1e-4, 1e-2, 1.0]), lag=st.integers(0, 3),
       miss=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_kalman_fixed_lag_equals_the_batch_posterior(order, level, lag, miss, seed):
    rng = np.random.default_rng(seed)
    t_len, fw = 10, 2.0
    det = np.cumsum(rng.normal(0, 0.3, (t_len, 2, 2)), axis=0) + rng.normal(0, 1.0, (1, 2, 2))
    det[miss] = np.nan
    out = lb.kalman_fixed_lag(det, fw, [], order, level, lag)
    y = det.reshape(t_len, -1) / fw
    for s in range(t_len):
        ref = _batch(y, order, level, min(s + lag, t_len - 1), s) * fw
        np.testing.assert_allclose(out[s].reshape(-1), ref, atol=1e-8, err_msg=f"frame {s}")


def test_kalman_fixed_lag_restarts_at_a_cut_and_waits_for_a_detection():
    rng = np.random.default_rng(3)
    det = rng.normal(0, 1, (20, 5, 2)) + 100.0
    det[10:] += 500.0
    det[:2] = np.nan
    out = lb.kalman_fixed_lag(det, 50.0, [10], 2, 1e-2, 3)
    assert np.all(np.isnan(out[:2])) and np.all(np.isfinite(out[2:]))
    # the second shot never sees the first: same as running it alone
    np.testing.assert_allclose(out[10:], lb.kalman_fixed_lag(det[10:], 50.0, [], 2, 1e-2, 3), atol=1e-9)


def _tracks(seed: int, t_len: int = 40, cuts=()):
    rng = np.random.default_rng(seed)
    t = np.arange(t_len)[:, None, None]
    truth = 200.0 + 40.0 * rng.normal(size=(1, 5, 2)) + 3.0 * np.sin(t / 5.0 + rng.uniform(0, 6, (1, 5, 2)))
    truth[:, 1, 0] = truth[:, 0, 0] + 60.0  # an eye pair 60 px apart: F = 120 px
    truth[:, 1, 1] = truth[:, 0, 1]
    det = truth + rng.normal(0, 1.0, truth.shape)
    return det, truth


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), past=st.integers(0, 6), lag=st.integers(0, 4))
def test_fir_design_equals_explicit_filtering(seed, past, lag):
    det, truth = _tracks(seed)
    det[17] = np.nan
    cuts = [25]
    d = lb.fir_design(det, truth, cuts, past, lag)
    rng = np.random.default_rng(seed + 1)
    h = rng.normal(0, 0.2, len(d["taps"]))
    jit, rmse = lb.fir_apply(d, h)
    out = np.full_like(det, np.nan)
    for t in d["ts"]:
        out[t] = lb.fir_filter(det, h, d["taps"], int(t))
        assert np.isfinite(out[t]).all()  # whole window measured and inside one shot
        assert not (t - past <= 17 <= t + lag) and ((t - past >= 25) or (t + lag < 25))
    assert (jit, rmse) == pytest.approx(lb.interior_scores(out, truth, d), rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 0.3, 10.0]))
def test_fir_fit_is_the_least_squares_optimum(seed, lam):
    ds = [lb.fir_design(*_tracks(seed + k), [], 5, 3) for k in range(2)]
    wj, wm = [1.0, 2.0], [0.5, 1.0]
    h = lb.fir_fit(ds, wj, wm, lam)

    def objective(taps):  # fir_fit's: sum w_j mean(e2^2) + lam w_m mean(e^2), from fir_apply's % F figures
        tot = 0.0
        for d, a, b in zip(ds, wj, wm):
            jit, rmse = lb.fir_apply(d, taps)
            tot += a * (jit / 100) ** 2 + lam * b * (rmse / 100) ** 2 / 2  # rmse^2 sums the 2 coordinates
        return tot

    best = objective(h)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        assert objective(h + rng.normal(0, 1e-3, len(h))) >= best * (1 - 1e-12)
