"""The offline mode's end step (``ffaccel.stability._ends``, ``stabilize_track(end_frames=...)``):
the last frames of each shot become a straight line where the smoothed tail is straight to
within the noise. Against the numpy reference, and its properties: a still face ends without a
pop, a pan keeps its velocity, a curve is left to the level bank, shots are independent."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import stabilize_track
from ffaccel.stability._ends import END_FRAMES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stability_offline_reference import stabilize_offline_reference  # noqa: E402

FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])


def _track(frames: int, width: float, vel=(0.0, 0.0), amp: float = 0.0, period: float = 20.0) -> np.ndarray:
    """(T, 5, 2) truth: a face ``width`` px wide moving at ``vel`` px/frame plus a sideways sine."""
    t = np.arange(frames, dtype=float)
    shift = np.stack([vel[0] * t + amp * np.sin(2 * np.pi * t / period), vel[1] * t], axis=1)
    return FACE5[None] * (width / 100.0) + np.array([640.0, 360.0]) + shift[:, None, :]


def _noisy(truth: np.ndarray, sigma: float, seed: int, share: float = 0.7) -> np.ndarray:
    """Detector-like noise: ``share`` of the variance a shift common to the points of a frame."""
    rng = np.random.default_rng(seed)
    t, n, _ = truth.shape
    return (truth + rng.normal(0, sigma * np.sqrt(share), (t, 1, 2))
            + rng.normal(0, sigma * np.sqrt(1 - share), (t, n, 2)))


def _steps(out: np.ndarray) -> np.ndarray:
    """(T - 1,) largest coordinate step of the points' centroid from one frame to the next, px."""
    return np.abs(np.diff(out.mean(axis=1), axis=0)).max(axis=1)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(8, 140), st.sampled_from([2, 5, 68]),
       st.sampled_from(["still", "pan", "sine"]), st.booleans(), st.booleans(), st.booleans())
def test_end_step_equals_the_numpy_reference(seed, frames, n_pts, motion, timestamps, miss, cut):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 30.0, (n_pts, 2)) + 500.0
    t = np.arange(frames, dtype=float)
    shift = {"still": 0 * t, "pan": 0.8 * t, "sine": 25.0 * np.sin(t / 3.0)}[motion]
    z = base[None] + np.stack([shift, 0.3 * shift], 1)[:, None, :] + rng.normal(0, 1.0, (frames, n_pts, 2))
    if miss:
        z[rng.integers(0, frames)] = np.nan
    cuts = [frames // 2] if cut and frames > 20 else None
    if cuts:
        z[frames // 2:] += 300.0
    times = np.cumsum(rng.uniform(0.8, 1.2, frames)) / 30.0 if timestamps else None
    got = stabilize_track(z, timestamps=times, cuts=cuts)
    want = stabilize_offline_reference(z, timestamps=times, cuts=cuts)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    if np.isfinite(want).any():
        assert np.nanmax(np.abs(got - want)) < 1e-9 * 100.0


def test_a_still_face_ends_without_a_pop():
    # without the step the centroid's largest step over the last 4 frames is about 5x its
    # median step mid-clip (one-sided end estimates); with it, the line's
    with_end, without, mid = [], [], []
    for seed in range(16):
        truth = _track(96, 200.0)
        z = _noisy(truth, 2.0, seed)
        a, b = stabilize_track(z), stabilize_track(z, end_frames=0)
        with_end.append(_steps(a)[-4:].max())
        without.append(_steps(b)[-4:].max())
        mid.append(np.median(_steps(b)[20:70]))
        assert np.abs(a - truth)[-END_FRAMES:].mean() <= 1.05 * np.abs(b - truth)[-END_FRAMES:].mean()
    assert np.mean(with_end) < 0.5 * np.mean(without)
    assert np.mean(with_end) < 2.0 * np.mean(mid)


def test_a_pan_keeps_its_velocity_to_the_end():
    err_a, err_b, vels = [], [], []
    for seed in range(16):
        truth = _track(96, 200.0, vel=(1.5, 0.5))
        z = _noisy(truth, 2.0, seed)
        a, b = stabilize_track(z), stabilize_track(z, end_frames=0)
        vels.append(np.diff(a.mean(axis=1)[-END_FRAMES - 1:], axis=0).mean(axis=0))
        err_a.append(np.abs(a - truth)[-END_FRAMES:].mean())
        err_b.append(np.abs(b - truth)[-END_FRAMES:].mean())
    np.testing.assert_allclose(np.mean(vels, axis=0), [1.5, 0.5], atol=0.05)  # no lag, no stop at the end
    assert np.abs(np.array(vels) - [1.5, 0.5]).max() < 0.3
    assert np.mean(err_a) <= np.mean(err_b)


@pytest.mark.parametrize("seed", range(5))
def test_a_curving_tail_keeps_the_banks_estimate(seed):
    # a shake 30 px wide to the end (noise ~2 px): the sideways channel is left to the bank;
    # the still vertical one may become a line
    truth = _track(96, 200.0, amp=30.0)
    z = _noisy(truth, 2.0, seed)
    a, b = stabilize_track(z), stabilize_track(z, end_frames=0)
    assert np.abs(a.mean(axis=1)[:, 0] - b.mean(axis=1)[:, 0]).max() < 1e-3


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["still", "pan"]))
def test_each_shot_ends_on_its_own(seed, motion):
    # a track with a cut gives the points of its two shots smoothed apart (what the FaceFusion
    # adapter does when it splits a track at the cut)
    vel = (0.0, 0.0) if motion == "still" else (1.0, -0.5)
    a = _track(60, 150.0, vel=vel)
    b = _track(50, 120.0, vel=vel) + 400.0
    z = _noisy(np.concatenate([a, b]), 1.5, seed)
    whole = stabilize_track(z, cuts=[60])
    np.testing.assert_allclose(whole[:60], stabilize_track(z[:60]), atol=1e-9)
    np.testing.assert_allclose(whole[60:], stabilize_track(z[60:]), atol=1e-9)


def test_missed_last_frames_stay_missed_and_the_rest_is_treated():
    truth = _track(96, 200.0)
    z = _noisy(truth, 2.0, 3)
    z[-3:] = np.nan  # the face is gone for the last 3 frames
    a, b = stabilize_track(z), stabilize_track(z, end_frames=0)
    assert np.isnan(a[-3:]).all()
    assert not np.array_equal(a[-3 - END_FRAMES:-3], b[-3 - END_FRAMES:-3])  # the tail up to the last detection
    np.testing.assert_array_equal(a[:-3 - END_FRAMES], b[:-3 - END_FRAMES])  # nothing before it


def test_short_tracks_and_end_frames_zero():
    z = _noisy(_track(10, 100.0), 1.0, 0)
    np.testing.assert_array_equal(stabilize_track(z), stabilize_track(z, end_frames=0))  # no frame before the tail
    z = _noisy(_track(60, 100.0), 1.0, 1)
    np.testing.assert_allclose(stabilize_track(z, end_frames=0), stabilize_offline_reference(z, end_frames=0), atol=1e-9)
    out = stabilize_track(z, end_frames=3)
    np.testing.assert_array_equal(out[:-3], stabilize_track(z, end_frames=0)[:-3])


@pytest.mark.parametrize("mode", ["causal", "fixed_lag"])
def test_streaming_modes_ignore_it(mode):
    z = _noisy(_track(50, 100.0), 1.0, 2)
    np.testing.assert_array_equal(stabilize_track(z, mode=mode), stabilize_track(z, mode=mode, end_frames=0))


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (True, TypeError), (2.5, TypeError), ("12", TypeError),
                                      (None, TypeError)])
def test_bad_end_frames_are_refused(bad, err):
    z = _noisy(_track(30, 100.0), 1.0, 0)
    with pytest.raises(err, match="^end_frames: expected"):
        stabilize_track(z, end_frames=bad)
