"""smooth_track, detect_cuts, estimate_noise: zero lag, cuts, dropouts, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import detect_cuts, estimate_noise, smooth_track
from ffaccel.stability._face import project_template

FACE = project_template(yaw=10, scale=2.0, center=(640, 360))


def _ramp(frames=80, v=(2.0, -1.0)):
    return FACE[None] + np.arange(frames)[:, None, None] * np.asarray(v)


def test_exact_ramp_is_reproduced():
    truth = _ramp()
    # the finite diffuse prior (1e8 px^2) leaves a ~1e-6 px start-up bias
    assert np.abs(smooth_track(truth, noise_px=1.0) - truth).max() < 1e-4


def test_noise_is_removed_without_lag():
    rng = np.random.default_rng(0)
    truth = _ramp(120)
    out = smooth_track(truth + rng.normal(0, 1.5, truth.shape))
    err = out - truth
    jit = np.sqrt(np.mean(np.diff(err, 2, axis=0) ** 2))
    assert 1.5 * np.sqrt(6) / jit >= 10.0
    lag = -np.mean(np.sum(err * [2.0, -1.0], axis=2)) / 5.0
    assert abs(lag) < 0.05


def test_dropouts_are_interpolated_and_ends_stay_nan():
    rng = np.random.default_rng(1)
    truth = _ramp(60)
    z = truth + rng.normal(0, 1.0, truth.shape)
    z[[0, 1, 20, 21, 22, 59]] = np.nan
    z[30, 5] = np.nan  # one landmark missing
    out = smooth_track(z)
    assert np.isnan(out[[0, 1, 59]]).all()
    inner = out[2:59]
    assert np.isfinite(inner).all()
    assert np.abs(out[20:23] - truth[20:23]).max() < 2.0
    assert np.abs(out[30, 5] - truth[30, 5]).max() < 2.0


def test_cut_is_detected_and_nothing_leaks_across():
    a = _ramp(40)
    b = project_template(yaw=-20, scale=1.5, center=(1500, 800))[None] + np.zeros((40, 1, 1))
    track = np.concatenate([a, b])
    assert detect_cuts(track) == [40]
    rng = np.random.default_rng(2)
    z = track + rng.normal(0, 1.0, track.shape)
    out1 = smooth_track(z, noise_px=1.0)
    z2 = z.copy()
    z2[:40] += 30.0  # change only the first shot
    out2 = smooth_track(z2, noise_px=1.0)
    assert np.array_equal(out1[40:], out2[40:])
    assert np.abs(out1[40] - b[0]).max() < 3.0  # recovered on the first frame of the shot
    smeared = smooth_track(z, noise_px=1.0, cuts=[])
    assert np.abs(smeared[40] - b[0]).max() > 10.0  # without the cut the shots bleed together


def test_estimate_noise_handles_gauss_and_quantized():
    rng = np.random.default_rng(3)
    truth = _ramp(100)
    assert estimate_noise(truth + rng.normal(0, 1.5, truth.shape)) == pytest.approx(1.5, rel=0.05)
    quant = 2.0 * np.round((truth + rng.normal(0, 0.3, truth.shape)) / 2.0)
    assert estimate_noise(quant) > 0.3  # a MAD estimate would say 0 here


def test_timestamps_with_uniform_steps_match_default():
    rng = np.random.default_rng(4)
    z = _ramp(30) + rng.normal(0, 1, (30, 68, 2))
    assert np.allclose(smooth_track(z, timestamps=np.arange(30) / 30.0), smooth_track(z))


@settings(max_examples=15, deadline=None)
@given(st.floats(-1000, 1000), st.floats(-1000, 1000))
def test_translation_equivariant(dx, dy):
    z = _ramp(30) + np.random.default_rng(5).normal(0, 1, (30, 68, 2))
    # 1e-4 px: the noise estimate (a median of second differences) moves by rounding when
    # the track is shifted by ~1000 px, which shifts the smoothing gain very slightly.
    assert np.allclose(smooth_track(z + [dx, dy]), smooth_track(z) + [dx, dy], rtol=0, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 40), st.floats(0.1, 5.0))
def test_still_input_stays_still(frames, noise):
    still = np.repeat(FACE[None], frames, axis=0)
    assert np.allclose(smooth_track(still, noise_px=noise), still, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"landmarks": np.zeros((5, 68, 3))}, ValueError, "landmarks"),
        ({"landmarks": np.zeros((0, 68, 2))}, ValueError, "landmarks"),
        ({"landmarks": np.full((5, 68, 2), np.inf)}, ValueError, "landmarks"),
        ({"landmarks": np.full((5, 68, 2), 2e12)}, ValueError, r"landmarks: expected coordinates within \+-1e\+12"),
        ({"timestamps": np.zeros(5)}, ValueError, "timestamps"),
        ({"timestamps": np.zeros(4)}, ValueError, "timestamps"),
        ({"cuts": [0]}, ValueError, "cuts"),
        ({"noise_px": -1.0}, ValueError, "noise_px"),
        ({"accel_px": 0.0}, ValueError, "accel_px"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    args = {"landmarks": np.repeat(FACE[None], 5, axis=0)}
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        smooth_track(**args)
