"""TemporalSmoother: contract, state size, adaptivity, cuts, errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import OneEuroFilter, TemporalSmoother
from ffaccel.stability._face import project_template
from ffaccel.stability.smoother import _noise_ratio, matched_gain

FACE = project_template(yaw=10, pitch=-5, roll=3, scale=2.0, center=(640, 360))


def _noisy(frames: int, sigma: float = 1.5, seed: int = 0, velocity=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = FACE[None] + np.arange(frames)[:, None, None] * np.asarray(velocity, float)
    return truth, truth + rng.normal(0, sigma, truth.shape)


def _run(flt, frames: np.ndarray) -> np.ndarray:
    return np.stack([flt.update(f) for f in frames])


def test_state_is_at_most_1kb_for_68_landmarks():
    f = TemporalSmoother(per_landmark=True)
    _, z = _noisy(20)
    _run(f, z)
    assert f._pos.dtype == np.float32 and f._vel.dtype == np.float16
    assert f.state_nbytes <= 1024
    assert f.state_nbytes == f._pos.nbytes + f._vel.nbytes + f._box.nbytes + 24


def test_matched_gain_equals_ema_noise():
    for a in (0.1, 0.25, 0.5):
        g = matched_gain(a)
        assert g < a
        assert _noise_ratio(g, g * g / (2 - g)) == pytest.approx(a / (2 - a), rel=1e-6)


def test_jitter_reduction_on_still_face_and_no_ramp_lag():
    truth, z = _noisy(120)
    out = _run(TemporalSmoother(), z)
    jit = lambda x: np.sqrt(np.mean(np.diff(x[10:] - truth[10:], 2, axis=0) ** 2))  # noqa: E731
    assert jit(z) / jit(out) >= 5.0
    truth, z = _noisy(120, velocity=(2.0, -1.0))
    err = (_run(TemporalSmoother(), z) - truth)[40:]
    lag = -np.mean(np.sum(err * np.array([2.0, -1.0]), axis=2)) / 5.0
    assert abs(lag) < 0.3  # a plain EMA(0.25) lags 3 frames here


def test_exact_ramp_is_followed_without_lag():
    truth = FACE[None] + np.arange(60)[:, None, None] * np.array([3.0, 1.0])
    out = _run(TemporalSmoother(), truth)
    assert np.abs(out[20:] - truth[20:]).max() < 0.05


def test_cut_resets_and_returns_measurement():
    f = TemporalSmoother()
    _, z = _noisy(30)
    _run(f, z)
    other = project_template(yaw=-20, scale=1.5, center=(1200, 700))
    assert np.array_equal(f.update(other), other)
    assert f.cuts == 1


def test_bbox_iou_collapse_is_a_cut():
    f = TemporalSmoother(cut_jump=100.0)  # only the IoU test can fire
    f.update(FACE)
    small = (FACE - FACE.mean(0)) * 0.3 + FACE.mean(0)
    assert np.array_equal(f.update(small), small)
    assert f.cuts == 1


def test_single_point_is_smoothed_not_cut():
    rng = np.random.default_rng(4)
    z = np.array([[100.0, 50.0]]) + rng.normal(0, 1.0, (60, 1, 2))
    f = TemporalSmoother()
    out = _run(f, z)
    assert f.cuts == 0
    assert np.std(out[20:] - [100.0, 50.0]) < 0.6 * np.std(z[20:] - [100.0, 50.0])


def test_huge_jump_of_a_point_stays_finite():
    f = TemporalSmoother()
    for k in range(5):
        out = f.update(np.array([[1e5 * k, 0.0]]))
    assert np.isfinite(out).all() and np.isfinite(f._vel.astype(float)).all()


def test_adaptive_follows_a_step_faster():
    step = np.array([12.0, 0.0])
    res = {}
    for adaptive in (True, False):
        f = TemporalSmoother(adaptive=adaptive)
        for _ in range(30):
            f.update(FACE)
        outs = [f.update(FACE + step) for _ in range(3)]
        res[adaptive] = np.abs(outs[-1] - FACE - step).max()
    assert res[True] < 0.5 * res[False]


def test_per_landmark_mode_lets_one_landmark_move():
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 0.5, (32, 68, 2))
    moved = FACE.copy()
    moved[57] += [0.0, 8.0]  # the lower lip drops
    res = {}
    for per in (True, False):
        f = TemporalSmoother(per_landmark=per)
        for i in range(30):
            f.update(FACE + noise[i])
        f.update(moved + noise[30])
        out = f.update(moved + noise[31])
        res[per] = out[57, 1] - FACE[57, 1]
    assert res[True] > 6.0  # nearly there after two frames
    assert res[True] > 1.5 * res[False]


def test_reset_restores_fresh_behaviour():
    _, z = _noisy(40, seed=3)
    f = TemporalSmoother()
    _run(f, z[:25])
    f.reset()
    assert np.array_equal(_run(f, z[25:]), _run(TemporalSmoother(), z[25:]))


def test_timestamps_scale_the_prediction():
    truth = FACE[None] + np.arange(40)[:, None, None] * np.array([2.0, 0.0])
    f = TemporalSmoother()
    out = np.stack([f.update(p, timestamp=i / 30.0) for i, p in enumerate(truth)])
    assert np.abs(out[20:] - truth[20:]).max() < 0.05


@settings(max_examples=20, deadline=None)
@given(st.floats(-500, 500), st.floats(-500, 500), st.integers(0, 2**16))
def test_translation_equivariant(dx, dy, seed):
    _, z = _noisy(25, seed=seed)
    shift = np.array([dx, dy])
    a = _run(TemporalSmoother(), z)
    b = _run(TemporalSmoother(), z + shift)
    assert np.allclose(b, a + shift, atol=2e-3)  # float32 state at ~1000 px


@settings(max_examples=20, deadline=None)
@given(st.floats(0, 2000), st.floats(0, 2000), st.sampled_from([True, False]))
def test_still_input_stays_still(x, y, per):
    f = TemporalSmoother(per_landmark=per)
    pts = FACE - FACE.mean(0) + [x, y]
    for _ in range(15):
        out = f.update(pts)
    assert np.allclose(out, pts, atol=1e-3)


def test_causal_filters_are_interchangeable():
    for cls in (TemporalSmoother, OneEuroFilter):
        sig = inspect.signature(cls.update)
        assert list(sig.parameters) == ["self", "points", "timestamp"]
        assert sig.parameters["timestamp"].default is None
        f = cls()
        assert f.update(FACE).shape == (68, 2)
        f.reset()


@pytest.mark.parametrize(
    "bad, exc, word",
    [
        (np.zeros((68, 3)), ValueError, "points"),
        (np.zeros(68), ValueError, "points"),
        (np.full((68, 2), np.nan), ValueError, "points"),
        (np.array([["a", "b"]]), TypeError, "points"),
    ],
)
def test_bad_points(bad, exc, word):
    with pytest.raises(exc, match=word):
        TemporalSmoother().update(bad)


def test_point_count_and_timestamp_errors():
    f = TemporalSmoother()
    f.update(FACE)
    with pytest.raises(ValueError, match="points"):
        f.update(FACE[:5])
    with pytest.raises(ValueError, match="timestamp"):
        f.update(FACE, timestamp=1.0)
    g = TemporalSmoother()
    g.update(FACE, timestamp=1.0)
    with pytest.raises(ValueError, match="timestamp"):
        g.update(FACE, timestamp=0.5)
    with pytest.raises(TypeError, match="timestamp"):
        g.update(FACE, timestamp="now")


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"window": 0}, ValueError, "window"),
        ({"window": 2.5}, TypeError, "window"),
        ({"cut_iou": 1.0}, ValueError, "cut_iou"),
        ({"cut_jump": -1}, ValueError, "cut_jump"),
    ],
)
def test_bad_parameters(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        TemporalSmoother(**kwargs)
