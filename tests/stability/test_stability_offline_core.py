"""The offline mode's compiled steps against their numpy references: the rigid split
(``_core.stab_rigid`` vs ``_rigid.reference_shape`` + ``to_channels``), the noise level
(``_core.stab_noise_variance``) and the whole of ``stabilize_track(mode="offline")`` against
tests/stability_offline_reference.py, on random tracks and on the real MTCNN tracks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import _bank, stabilize_track
from ffaccel.stability._rigid import reference_shape, to_channels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stability_bank_reference import noise_variance_reference  # noqa: E402
from stability_offline_reference import stabilize_offline_reference  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "real_tracks"
FILES = sorted(DATA.glob("*.npz"))
FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])


def _track(seed: int, frames: int, n_pts: int, turn: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = FACE5 if n_pts == 5 else rng.uniform(-30, 30, (n_pts, 2))
    t = np.arange(frames, dtype=float)
    ang = turn * np.sin(t / 7.0)  # may wrap past +-pi
    rot = np.stack([np.cos(ang), -np.sin(ang), np.sin(ang), np.cos(ang)], 1).reshape(-1, 2, 2)
    pts = np.einsum("tij,nj->tni", rot, shape) * rng.uniform(0.5, 5) + rng.uniform(0, 1000, 2)
    return pts + rng.normal(0, 1.0, pts.shape)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 200), st.sampled_from([2, 5, 68]), st.floats(0, 4.0))
def test_rigid_split_equals_the_numpy_reference(seed, frames, n_pts, turn):
    pts = _track(seed, frames, n_pts, turn)
    z = pts[..., 0] + 1j * pts[..., 1]
    m_ref, size_ref = reference_shape(z)
    ch_ref = to_channels(z, m_ref, size_ref)
    m = np.empty((n_pts, 2))
    ch = np.empty((frames, 4 + 2 * n_pts))
    size = _core.stab_rigid(pts, m, ch)
    assert abs(size - size_ref) <= 1e-12 * size_ref
    assert np.max(np.abs(m[:, 0] + 1j * m[:, 1] - m_ref)) < 1e-12
    assert np.max(np.abs(ch - ch_ref)) < 1e-11


def test_rigid_split_rejects_degenerate_frames():
    pts = np.repeat(FACE5[None], 4, 0).copy()
    pts[0] = 3.0  # every point of the first frame at one place
    with pytest.raises(ValueError, match="same place"):
        _core.stab_rigid(pts, np.empty((5, 2)), np.empty((4, 14)))
    with pytest.raises(ValueError, match="z"):
        _core.stab_rigid(np.zeros((4, 1, 2)), np.empty((1, 2)), np.empty((4, 6)))
    with pytest.raises(ValueError, match="channels"):
        _core.stab_rigid(np.repeat(FACE5[None], 4, 0), np.empty((5, 2)), np.empty((3, 14)))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 300), st.integers(1, 14), st.floats(0, 1))
def test_noise_level_equals_the_numpy_reference(seed, t_len, n_ch, miss):
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.normal(0, 0.01, (t_len, n_ch)), 0) + rng.normal(0, 0.003, (t_len, n_ch))
    valid = rng.uniform(size=t_len) >= miss
    floor = np.full(n_ch, 1e-8)
    assert np.array_equal(_bank.noise_variance(y, valid, floor), noise_variance_reference(y, valid, floor))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("stamped", [False, True])
def test_offline_equals_the_numpy_pipeline_on_real_tracks(path, stamped):
    with np.load(path) as d:
        z = d["detected"].astype(np.float64)
        width = float(d["face_width"])
    ts = np.arange(len(z)) / 30.0 + (0.002 * np.sin(np.arange(len(z))) if stamped else 0.0)
    kw = {"timestamps": ts} if stamped else {}
    got = stabilize_track(z, **kw)
    want = stabilize_offline_reference(z, **kw)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) / width < 1e-9


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 400), st.floats(0, 0.3), st.floats(0, 3.0))
def test_offline_equals_the_numpy_pipeline_on_random_tracks(seed, frames, miss, turn):
    pts = _track(seed, frames, 5, turn)
    rng = np.random.default_rng(seed + 1)
    pts[rng.uniform(size=frames) < miss] = np.nan
    pts[rng.integers(0, frames, 3)] += rng.normal(0, 8, (3, 1, 2))  # glitches
    got = stabilize_track(pts)
    want = stabilize_offline_reference(pts)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    if np.isfinite(want).any():
        assert np.nanmax(np.abs(got - want)) < 1e-9 * 100.0


def _cut_flags_core(pts: np.ndarray, valid: np.ndarray) -> list[int]:
    from ffaccel.stability import _cuts

    flags = np.empty(len(pts), np.uint8)
    _core.stab_cuts(np.ascontiguousarray(pts), valid.astype(np.uint8), _cuts.MOVE, _cuts.ZOOM, _cuts.TURN,
                    _cuts.SHAPE, flags)
    return np.flatnonzero(flags).tolist()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 120), st.sampled_from([2, 5, 68]), st.floats(0, 0.4),
       st.integers(0, 4))
def test_cut_rule_equals_the_numpy_rule(seed, frames, n_pts, miss, n_cuts):
    from ffaccel.stability._cuts import cut_flags

    rng = np.random.default_rng(seed)
    pts = _track(seed, frames, n_pts, 0.3)
    for at in rng.integers(1, max(frames, 2), n_cuts):  # jumps, zooms, turns, other shapes
        kind = rng.integers(0, 4)
        if kind == 0:
            pts[at:] += rng.normal(0, 200, 2)
        elif kind == 1:
            pts[at:] = (pts[at:] - pts[at:].mean(1, keepdims=True)) * rng.uniform(0.3, 3) + pts[at:].mean(1, keepdims=True)
        elif kind == 2:
            pts[at:] = pts[at:][..., ::-1].copy()
        else:
            pts[at:] += rng.normal(0, 15, (n_pts, 2))
    valid = rng.uniform(size=frames) >= miss
    pts[~valid] = np.nan
    z = pts[..., 0] + 1j * pts[..., 1]
    assert _cut_flags_core(pts, valid) == cut_flags(z, valid)


def test_cut_rule_binding_rejects_bad_arguments():
    pts = np.repeat(FACE5[None], 6, 0)
    ok = dict(z=pts, valid=np.ones(6, np.uint8), move=1.5, zoom=1.5, turn=0.6, shape=0.35, flags=np.empty(6, np.uint8))
    for change, match in ((dict(valid=np.ones(5, np.uint8)), "valid"), (dict(zoom=1.0), "zoom"),
                          (dict(move=float("nan")), "move"), (dict(z=np.zeros((6, 5, 3))), "z")):
        with pytest.raises(ValueError, match=match):
            _core.stab_cuts(**{**ok, **change})
    flags = np.empty(6, np.uint8)
    flags.flags.writeable = False
    with pytest.raises(TypeError):
        _core.stab_cuts(**{**ok, "flags": flags})


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 100), st.sampled_from([2, 5, 68]))
def test_points_from_channels_equal_the_numpy_way_back(seed, frames, n_pts):
    from ffaccel.stability._rigid import from_channels

    rng = np.random.default_rng(seed)
    ch = rng.normal(0, 1, (frames, 4 + 2 * n_pts))
    m = rng.normal(0, 1, (n_pts, 2))
    size = float(rng.uniform(1, 300))
    out = np.empty((frames, n_pts, 2))
    _core.stab_points(ch, m, size, out)
    want = from_channels(ch, m[:, 0] + 1j * m[:, 1], size)
    assert np.max(np.abs(out - want)) <= 1e-12 * (1 + np.max(np.abs(want)))
    with pytest.raises(ValueError, match="size"):
        _core.stab_points(ch, m, 0.0, out)
    with pytest.raises(ValueError, match="out"):
        _core.stab_points(ch, m, size, np.empty((frames + 1, n_pts, 2)))


def _clean_args(pts: np.ndarray) -> dict:
    from ffaccel.stability import stabilize

    floor, lightest = stabilize._channel_limits(pts.shape[1])
    coef, warm = _bank._recursions()
    n = _bank.padded_length(len(pts))
    return dict(z=pts, n=n, pad=_bank._PAD, outlier=stabilize.OUTLIER, floor=floor, low=lightest,
                mad_to_var=_bank._MAD_TO_SIGMA2, ends=_bank._ENDS, coef=coef, warm=warm, norm=_bank._noise_gains(n),
                gamma=1.5, erode=3, average=5, out=np.full(pts.shape, -1.0))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(49, 400), st.sampled_from([2, 5, 68]), st.booleans())
def test_one_call_path_equals_the_step_by_step_path(seed, frames, n_pts, glitch):
    pts = _track(seed, frames, n_pts, 0.5)
    if glitch:
        pts[frames // 2] += 30.0
    a = _clean_args(pts)
    done = _core.stab_offline_clean(**a)
    want = stabilize_offline_reference(pts, cuts=[], end_frames=0)  # the core has no end step (_ends, Python)
    if done:
        assert np.max(np.abs(a["out"] - want)) < 1e-9 * 100.0
    else:  # a glitch to drop: nothing written, the caller takes the general path
        assert np.all(a["out"] == -1.0)
    assert not (glitch and n_pts == 5 and done)  # a 30 px jump on a 5-point face is always a glitch


def test_one_call_path_declines_short_shots_and_checks_its_arguments():
    pts = _track(1, 40, 5, 0.2)  # not longer than the pad: the general path
    a = _clean_args(pts)
    assert _core.stab_offline_clean(**a) is False and np.all(a["out"] == -1.0)
    pts = _track(1, 100, 5, 0.2)
    for change, match in ((dict(out=np.empty((99, 5, 2))), "out"), (dict(n=64), "pad"),
                          (dict(low=np.arange(14, dtype=np.int32)[::-1].copy()), "low")):
        with pytest.raises(ValueError, match=match):
            _core.stab_offline_clean(**{**_clean_args(pts), **change})
    a = _clean_args(pts)
    a["out"] = pts  # overlaps z (and is read-only-safe: refused before anything is written)
    with pytest.raises((ValueError, TypeError)):
        _core.stab_offline_clean(**a)
