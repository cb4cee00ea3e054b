"""Detector excursions in the offline mode of ``stabilize_track`` (``_cuts.excursions``).

A run of at most ``EXCURSION`` frames that starts like a cut and after which the face is
back where it was is the detector locking onto something else, not a new shot: offline,
its frames are interpolated as missed frames. The reference for every synthetic case is
the same track with the run's rows made NaN by hand, so the tests check the rule (which
runs are dropped) and not the smoother's figures. The real cases are two MTCNN tracks
where it happened (tests/data/excursions/README in tests/data/README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import stabilize_track
from ffaccel.stability import _cuts

FACE = np.array([[-25.0, -18.0], [25.0, -18.0], [0.0, 4.0], [-18.0, 26.0], [18.0, 26.0]])  # 5 points, ~100 px wide
DATA = Path(__file__).resolve().parents[1] / "data" / "excursions"


def _track(t_len: int = 96, seed: int = 0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(truth, detections): a face panning on a slow sine, rigid detector noise (px)."""
    t = np.arange(t_len, dtype=np.float64)
    centre = np.stack([400.0 + 60.0 * np.sin(t / 30.0), 300.0 + 0.3 * t], axis=1)
    truth = centre[:, None, :] + FACE[None]
    rng = np.random.default_rng(seed)
    det = truth + rng.normal(0.0, noise, (t_len, 1, 2)) + rng.normal(0.0, 0.3 * noise, truth.shape)
    return truth, det


def _other_object(det: np.ndarray, a: int, b: int, offset=(260.0, -150.0), scale: float = 0.4) -> np.ndarray:
    """``det`` with frames [a, b) on a smaller "face" far away (what MTCNN did on a covered face)."""
    out = det.copy()
    out[a:b] = det[a:b].mean(axis=1, keepdims=True) + np.array(offset) + scale * FACE
    return out


def _with_nan(det: np.ndarray, a: int, b: int) -> np.ndarray:
    out = det.copy()
    out[a:b] = np.nan
    return out


@pytest.mark.parametrize("a,b", [(40, 41), (40, 43), (30, 30 + _cuts.EXCURSION)])
@pytest.mark.parametrize("timed", [False, True])
def test_excursion_is_interpolated_as_missed_frames(a, b, timed):
    truth, det = _track()
    bad = _other_object(det, a, b)
    kw = {"timestamps": np.arange(len(det)) / 30.0} if timed else {}
    out = stabilize_track(bad, **kw)
    np.testing.assert_array_equal(out, stabilize_track(_with_nan(det, a, b), **kw))
    # and the interpolated frames are on the face, not on the other object (face ~100 px)
    assert np.abs(out[a:b] - truth[a:b]).max() < 5.0


def test_excursion_after_missed_frames():
    # MTCNN on the 4K cameraman: 7 missed frames, one frame on another object, then the face
    truth, det = _track()
    bad = _other_object(_with_nan(det, 40, 47), 47, 48)
    out = stabilize_track(bad)
    np.testing.assert_array_equal(out, stabilize_track(_with_nan(det, 40, 48)))
    assert np.abs(out[40:48] - truth[40:48]).max() < 5.0


def test_longer_run_is_two_cuts():
    truth, det = _track()
    a, b = 30, 30 + _cuts.EXCURSION + 1
    bad = _other_object(det, a, b)
    out = stabilize_track(bad)
    # kept as its own shot: those frames follow the detections, not the face
    assert np.abs(out[a:b] - bad[a:b]).mean() < 2.0
    np.testing.assert_array_equal(out, stabilize_track(bad, cuts=[a, b]))


def test_real_cut_is_kept():
    # the face jumps elsewhere and stays: a cut, nothing dropped
    truth, det = _track()
    moved = det.copy()
    moved[48:] += np.array([500.0, 120.0])
    out = stabilize_track(moved)
    np.testing.assert_array_equal(out, stabilize_track(moved, cuts=[48]))
    assert not np.isnan(out).any()


def test_no_return_to_the_same_place():
    # two cuts within EXCURSION frames, but the second goes to a third place: two shots
    truth, det = _track()
    bad = _other_object(det, 40, 43)
    bad[43:] += np.array([-300.0, 200.0])
    out = stabilize_track(bad)
    np.testing.assert_array_equal(out, stabilize_track(bad, cuts=[40, 43]))


def test_given_cuts_are_respected():
    # shots the caller names are filtered as given: no frame of them is dropped
    truth, det = _track()
    bad = _other_object(det, 40, 43)
    out = stabilize_track(bad, cuts=[40, 43])
    assert np.abs(out[40:43] - bad[40:43]).mean() < 2.0


def test_input_is_not_written():
    truth, det = _track()
    bad = np.ascontiguousarray(_other_object(det, 40, 43))
    before = bad.copy()
    stabilize_track(bad)
    np.testing.assert_array_equal(bad, before)


def test_causal_mode_unchanged():
    # the causal mode cannot see the return: it keeps the cut rule's shots (the fixed-lag
    # mode's take-back within its look-ahead: test_stability_excursions_fixed_lag.py)
    truth, det = _track()
    bad = _other_object(det, 40, 43)
    np.testing.assert_array_equal(stabilize_track(bad, mode="causal"), stabilize_track(bad, mode="causal", cuts=[40, 43]))


def test_excursions_function():
    truth, det = _track()
    bad = _other_object(_other_object(det, 20, 22), 60, 61)
    z = bad[..., 0] + 1j * bad[..., 1]
    valid = np.ones(len(bad), bool)
    assert _cuts.excursions(z, valid, [20, 22, 60, 61]) == [(20, 22), (60, 61)]
    assert _cuts.excursions(z, valid, [20, 22, 60, 61], limit=1) == [(60, 61)]
    assert _cuts.excursions(z, valid, []) == []
    assert _cuts.excursions(z, valid, [20]) == []


@settings(max_examples=30, deadline=None)
@given(st.integers(5, 80), st.integers(1, _cuts.EXCURSION), st.integers(0, 2**31 - 1),
       st.floats(0.2, 0.6), st.floats(3.0, 6.0), st.floats(0.0, 6.283))
def test_property_excursion_equals_missed_frames(a, length, seed, scale, dist, angle):
    # any lock-on of 1..EXCURSION frames onto a smaller object 3-6 face widths away, anywhere
    # with at least 2 frames after it, gives the output of the same frames missed
    truth, det = _track(seed=seed)
    b = min(a + length, len(det) - 2)
    offset = dist * 100.0 * np.array([np.cos(angle), np.sin(angle)])
    bad = _other_object(det, a, b, offset=offset, scale=scale)
    np.testing.assert_array_equal(stabilize_track(bad), stabilize_track(_with_nan(det, a, b)))


def _real(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    with np.load(DATA / f"{name}.npz", allow_pickle=False) as d:
        return d["truth"].astype(np.float64), d["detected"].astype(np.float64), float(d["face_width"])


def _worst(out: np.ndarray, truth: np.ndarray, fw: float, frames: slice) -> float:
    """Worst frame's centroid error over ``frames``, % of the face width."""
    return float(np.nanmax(np.linalg.norm((out[frames] - truth[frames]).mean(axis=1), axis=1)) / fw * 100.0)


def test_real_4k_lock_on_after_missed_frames():
    # MTCNN: frames 40-46 missed, frame 47 on another object 150 % F away, 48 on the face
    truth, det, fw = _real("occlusion_4k_240_camera")
    assert _worst(det, truth, fw, slice(47, 48)) > 100.0
    out = stabilize_track(det)
    assert _worst(out, truth, fw, slice(40, 48)) < 3.0  # interpolated across (1.55 % F today)


def test_real_720p_lock_on():
    # MTCNN: frames 40-42 on another object 150 % F away; 43-47 on a box round face and
    # occluder (21 % F off, not a cut: kept, as raw); 48 on the face again
    truth, det, fw = _real("occlusion_720p_240_camera")
    assert _worst(det, truth, fw, slice(40, 43)) > 100.0
    out = stabilize_track(det)
    # interpolated towards frame 43's detection, 21 % F off: 5.8-15.8 % F today (raw 153)
    assert _worst(out, truth, fw, slice(40, 43)) < 25.0
    # the shot no longer ends at frame 39, so the smoother there sees the 43-47 plateau too:
    # frame 39 is 2.6 % F off today (0.6 as its own shot's end), the frames before it < 1
    assert _worst(out, truth, fw, slice(0, 39)) < 2.0
    assert _worst(out, truth, fw, slice(39, 40)) < 5.0
