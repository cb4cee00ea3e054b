"""The streaming noise level (stability/_noise_level.py): second differences at rest, and in
the causal mode, in motion, at most D4_GAIN times the level of the fourth differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import LandmarkStabilizer, stabilize_track
from ffaccel.stability import _causal_core, _noise_level
from ffaccel.stability import _realdata as rd

DATA = Path(__file__).resolve().parents[1] / "data"
FACE5 = np.array([[-30.0, -20], [30, -20], [0, 5], [-22, 30], [22, 30]])
NOD = slice(20, 80)  # the real clips' fast nod (benchmarks/real/clips.py)


def _causal(det: np.ndarray, gain: float, monkeypatch, compiled: bool = True) -> np.ndarray:
    monkeypatch.setattr(_noise_level, "D4_GAIN", gain)  # (read at every reset, by both paths)
    st = LandmarkStabilizer(mode="causal")
    st._compiled = compiled
    st.reset()
    return np.array([st.update(z) for z in det])


@settings(max_examples=20, deadline=None)
@given(st.floats(0.05, 0.2), st.integers(0, 2**16))
def test_the_fourth_differences_level_matches_the_second_on_white_noise(sigma, seed):
    # Each median is scaled to a noise std: on white noise (a still head) both read the noise
    # std, on average over the channels and the frames after the first 100. (At one frame a
    # running median wanders, the fourth differences' more: successive ones share 4 of their
    # 5 frames, so its steps come in runs; over 40 seeds one channel read 0.40x to 2.1x.)
    rng = np.random.default_rng(seed)
    y = rng.normal(0, sigma, (400, 6))

    class Bank:  # the adaptive filter, at rest
        a2 = boost = np.zeros(6)

    class Track:  # what _noise_level reads of a stabiliser
        lag = 0
        _bank = Bank()

    tr = Track()
    _noise_level.reset(tr)
    logs = []
    for k in range(len(y)):
        _noise_level.noise(tr, y[k], k > 0)
        tr._last_y4, tr._last_y3, tr._last_y2, tr._last_y = tr._last_y3, tr._last_y2, tr._last_y, y[k]
        if k >= 100:
            logs.append([np.log(tr._mad / _noise_level.MAD / sigma), np.log(tr._mad4 / _noise_level.MAD / sigma)])
    mean2, mean4 = np.array(logs).mean(axis=(0, 2))
    assert abs(mean2) < 0.2 and abs(mean4) < 0.2


@pytest.mark.parametrize("seed", range(4))
def test_a_still_face_is_smoothed_about_as_with_second_differences_alone(seed, monkeypatch):
    # At rest the gate is shut but for a few frames where the adaptive filter reads noise as
    # motion: jitter within 10 % of the output without the fourth differences.
    rng = np.random.default_rng(seed)
    truth = np.repeat(FACE5[None] * 2 + 400, 120, axis=0)
    det = truth + rng.normal(0, 0.4, truth.shape)
    new = rd.jitter(_causal(det, _noise_level.D4_GAIN, monkeypatch), truth)
    old = rd.jitter(_causal(det, 0.0, monkeypatch), truth)
    assert new < 1.1 * old


@pytest.mark.parametrize("name", ["nod_4k_600_astronaut", "nod_720p_80_astronaut", "nod_4k_240_hopper"])
def test_a_precise_detectors_real_nod_is_followed_closer(name, monkeypatch):
    # Face Mesh's real fast nods (shipped tracks): its noise is small against the nod's
    # acceleration, which the second differences counted as noise. With the fourth
    # differences in motion the causal output's worst frame in the nod is lower on each clip
    # (1.7 against 2.9 % F on the benchmark's worst, docs/stability.md "Causal noise level in
    # motion").
    with np.load(DATA / "real_tracks_facemesh" / f"{name}.npz") as d:
        det, truth = d["detected"].astype(np.float64), d["truth"].astype(np.float64)
    new = rd.worst(_causal(det, _noise_level.D4_GAIN, monkeypatch), truth, NOD)
    old = rd.worst(_causal(det, 0.0, monkeypatch), truth, NOD)
    assert new < old


def test_the_python_and_compiled_paths_agree(monkeypatch):
    if not _causal_core.available():
        pytest.skip("this build has no compiled causal mode")
    with np.load(DATA / "real_tracks_facemesh" / "nod_4k_600_astronaut.npz") as d:
        det = d["detected"].astype(np.float64)
    a = _causal(det, _noise_level.D4_GAIN, monkeypatch, compiled=True)
    b = _causal(det, _noise_level.D4_GAIN, monkeypatch, compiled=False)
    assert np.max(np.abs(a - b)) < 1e-9 * 600
    assert not np.array_equal(a, _causal(det, 0.0, monkeypatch))  # (the fourth differences did act here)


def test_the_fixed_lag_mode_keeps_second_differences(monkeypatch):
    with np.load(DATA / "real_tracks_facemesh" / "nod_4k_600_astronaut.npz") as d:
        det = d["detected"].astype(np.float64)
    monkeypatch.setattr(_noise_level, "D4_GAIN", 0.0)
    off = stabilize_track(det, mode="fixed_lag", lag=3)
    monkeypatch.setattr(_noise_level, "D4_GAIN", 2.56)
    np.testing.assert_array_equal(stabilize_track(det, mode="fixed_lag", lag=3), off)
