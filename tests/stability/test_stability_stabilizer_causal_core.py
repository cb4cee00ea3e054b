"""The compiled causal mode (_core.StabCausal, issue 13's cost goal) against the Python reference
(LandmarkStabilizer with _compiled = False): same outputs to 1e-9 face widths, same errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import LandmarkStabilizer, stabilize_track

pytestmark = pytest.mark.skipif(not hasattr(_core, "StabCausal"), reason="this build has no compiled causal mode")

DATA = Path(__file__).resolve().parents[1] / "data" / "real_tracks"
FILES = sorted(DATA.glob("*.npz"))
FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])


class PyStabilizer(LandmarkStabilizer):
    _compiled = False  # the Python reference


def _pair():
    a, b = LandmarkStabilizer(mode="causal"), PyStabilizer(mode="causal")
    assert a._core is not None and b._core is None
    return a, b


def _feed_both(frames, times=None, cuts=(), width=1.0):
    """Feed the frames (None = missed) to both; check every output; returns how many were bit-identical."""
    a, b = _pair()
    same = 0
    for i, f in enumerate(frames):
        t = None if times is None else float(times[i])
        got = a.update(f, t, cut=i in cuts)
        want = b.update(f, t, cut=i in cuts)
        assert (got is None) == (want is None), i
        if want is not None:
            assert got.dtype == np.float64 and got.shape == want.shape and got.flags.writeable
            assert np.max(np.abs(got - want)) / width < 1e-9, i
            same += bool(np.array_equal(got, want))
    assert a.flush() == b.flush() == []
    return same


def _frames(z):
    return [None if np.isnan(row).any() else row for row in z]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("stamped", [False, True])
def test_real_tracks_equal_the_python_reference(path, stamped):
    with np.load(path) as d:
        z = d["detected"].astype(np.float64)
        width = float(d["face_width"])
        cuts = set(int(c) for c in d["cuts"]) if stamped else ()  # the known cuts given, or the rule's
    ts = np.arange(len(z)) / 30.0 + (0.002 * np.sin(np.arange(len(z))) if stamped else 0.0)
    _feed_both(_frames(z), ts if stamped else None, cuts, width)


def test_stabilize_track_causal_is_the_compiled_stream():
    with np.load(FILES[0]) as d:
        z = d["detected"].astype(np.float64)
    got = stabilize_track(z, mode="causal")
    st_ = LandmarkStabilizer(mode="causal")
    rows = [st_.update(None if np.isnan(r).any() else r) for r in z]
    want = np.stack([np.full(z.shape[1:], np.nan) if r is None else r for r in rows])
    assert np.array_equal(got, want, equal_nan=True)


def _track(seed, frames, n_pts, turn, noise, scale):
    rng = np.random.default_rng(seed)
    shape = FACE5 if n_pts == 5 else rng.uniform(-30, 30, (n_pts, 2))
    t = np.arange(frames, dtype=float)
    ang = turn * np.sin(t / 7.0)  # may wrap past +-pi
    rot = np.stack([np.cos(ang), -np.sin(ang), np.sin(ang), np.cos(ang)], 1).reshape(-1, 2, 2)
    pts = np.einsum("tij,nj->tni", rot, shape) * scale + rng.uniform(0, 1000, 2) + np.cumsum(rng.normal(0, 2, (frames, 1, 2)), 0)
    return pts + rng.normal(0, noise, pts.shape), rng


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 160), st.sampled_from([2, 5, 68]), st.floats(0, 4.0),
       st.floats(0, 3.0), st.floats(0.3, 8.0), st.floats(0, 0.4), st.booleans(), st.integers(0, 3), st.integers(0, 3))
def test_random_tracks_equal_the_python_reference(seed, frames, n_pts, turn, noise, scale, miss, stamped, n_jumps,
                                                  n_cuts):
    pts, rng = _track(seed, frames, n_pts, turn, noise, scale)
    for i in rng.integers(0, frames, n_jumps):  # jumps: glitches, or cuts by the scale-free rule
        pts[i:] += rng.normal(0, 60 * scale, 2)
    cuts = set(int(i) for i in rng.integers(0, frames, n_cuts))  # known cuts
    frames_ = [None if rng.uniform() < miss else p for p in pts]
    times = np.cumsum(rng.uniform(0.5, 2.5, frames)) / 30.0 if stamped else None
    if n_pts != 2 and frames > 2:  # odd inputs: float32, strided, read-only
        frames_[0] = None if frames_[0] is None else frames_[0].astype(np.float32)
        frames_[1] = None if frames_[1] is None else np.asfortranarray(frames_[1])
        if frames_[2] is not None:
            frames_[2] = frames_[2].copy()
            frames_[2].flags.writeable = False
    if frames > 3 and frames_[3] is not None:  # negative strides, same values
        frames_[3] = np.ascontiguousarray(frames_[3][::-1])[::-1]
    _feed_both(frames_, times, cuts, 30.0 * scale)


def test_a_still_track_is_bit_identical():
    rng = np.random.default_rng(3)
    frames = [FACE5 * 3 + 500 + rng.normal(0, 1.0, 2) + rng.normal(0, 0.3, FACE5.shape) for _ in range(300)]
    same = _feed_both(frames, width=120.0)
    assert same >= 1  # (most rows: the order of operations is numpy's; transcendental functions may differ by an ulp)


def test_long_miss_holds_and_missing_start_gives_none():
    frames = [None, None] + [FACE5 + 100.0 + 0.1 * i for i in range(6)] + [None] * 12 + [FACE5 + 104.0]
    _feed_both(frames, width=40.0)
    a = LandmarkStabilizer(mode="causal")
    outs = [a.update(f) for f in frames]
    assert outs[0] is None and outs[1] is None
    assert np.array_equal(outs[-2], outs[-3])  # held after PREDICT_MAX missed frames


BAD = [
    (lambda s: s.update(np.zeros((1, 2))), ValueError, "points"),
    (lambda s: s.update(np.full((5, 2), np.nan)), ValueError, "finite"),
    (lambda s: s.update(np.ones((5, 2))), ValueError, "same place"),
    # a face whose squared size overflows: named as too large, not as "the same place"
    (lambda s: s.update(FACE5 * 1e154), ValueError, r"points: expected coordinates within \+-1e\+12 px"),
    (lambda s: s.update(FACE5 + 2e12), ValueError, r"within \+-1e\+12 px, got 2e\+12"),
    (lambda s: s.update(FACE5, cut=1), TypeError, "cut"),
    (lambda s: s.update(FACE5, "x"), TypeError, "timestamp"),
    (lambda s: (s.update(FACE5), s.update(FACE5[:4])), ValueError, "points: expected 5 points"),
    (lambda s: (s.update(FACE5, 1.0), s.update(FACE5, 1.0)), ValueError, "timestamp: expected > 1.0"),
    (lambda s: (s.update(FACE5, 1.0), s.update(FACE5)), ValueError, "timestamp: expected one for every frame"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_gives_the_same_errors(case):
    call, err, msg = BAD[case]
    a, b = _pair()
    with pytest.raises(err, match=msg) as ea:
        call(a)
    with pytest.raises(err, match=msg) as eb:
        call(b)
    assert str(ea.value) == str(eb.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.5e12])
@pytest.mark.parametrize("stamp", [None, float, np.float64])
def test_a_rejected_frame_changes_nothing(bad, stamp):
    frames = [FACE5 * 2 + 300.0 + 0.4 * np.sin(i) for i in range(40)]
    ts = [None if stamp is None else stamp(0.5 + i / 25.0 + 0.003 * (i % 3)) for i in range(40)]
    a, b = _pair()
    for i, f in enumerate(frames):
        if i in (0, 5, 20):
            g = f.copy()
            g[3, 1] = bad
            for s in (a, b):
                with pytest.raises(ValueError, match="points: expected finite values" if np.isnan(bad) or
                                   np.isinf(bad) else "points: expected coordinates within"):
                    s.update(g, ts[i])
            if i == 5:  # and the timestamp errors, after the checks of the points
                for s in (a, b):
                    with pytest.raises(ValueError, match="timestamp") as e:
                        s.update(f, None if stamp else 1.0)
                    assert "expected one for every frame" in str(e.value)
                    if stamp is not None:
                        with pytest.raises(ValueError, match=rf"timestamp: expected > {float(ts[i - 1])}, got"):
                            s.update(f, ts[i - 1])
        got, want = a.update(f, ts[i]), b.update(f, ts[i])
        assert np.max(np.abs(got - want)) < 1e-12
        assert (a._n, a._use_t, a._frame, a._last_t, a._unit) == (b._n, b._use_t, b._frame, b._last_t, b._unit)
        assert type(a._last_t) is type(b._last_t)


def test_a_deep_copy_goes_on_alone():
    import copy

    frames = [FACE5 * 2 + 300.0 + 0.4 * np.sin(i) + 0.1 * i for i in range(30)]
    a = LandmarkStabilizer(mode="causal")
    for f in frames[:10]:
        a.update(f)
    b = copy.deepcopy(a)
    assert b._core is not a._core
    outs_a = [a.update(f) for f in frames[10:]]
    outs_b = [b.update(f) for f in frames[10:]]
    assert all(np.array_equal(x, y) for x, y in zip(outs_a, outs_b))


def test_input_is_not_modified_and_output_is_new():
    a = LandmarkStabilizer(mode="causal")
    z = FACE5 + 100.0
    z.flags.writeable = False
    o1 = a.update(z)
    o2 = a.update(z)
    assert np.array_equal(z, FACE5 + 100.0) and o1 is not o2 and not np.shares_memory(o1, o2)
    o2[:] = 0  # the caller owns it
    assert np.all(a.update(z) != 0)


def test_the_core_object_rejects_bad_arguments():
    c = LandmarkStabilizer(mode="causal")._core
    with pytest.raises(ValueError, match="dt"):
        c.feed(FACE5, 0.0, False)
    with pytest.raises(ValueError, match="points"):
        c.feed(np.zeros((5, 3)), 1.0, False)
    c.feed(FACE5, 1.0, False)
    with pytest.raises(ValueError, match="same N"):
        c.feed(np.zeros((4, 2)), 1.0, False)
    with pytest.raises(ValueError, match="missing"):
        _core.StabCausal({})


def _orthogonal_path():
    """A 3-point track that turns, without a cut, into a shape whose least-squares similarity to the
    shot's reference (its first frame) is exactly 0 (frame 30), then turns back."""
    m, v = np.array([-1.0, 1.0, 0.0]), np.array([1.0, 1.0, -2.0]) / np.sqrt(3.0)
    ts = list(np.linspace(0.0, np.pi / 2, 31)) + list(np.pi / 2 - 0.05 * np.arange(1, 10))
    frames = []
    for t in ts:
        z = v if t == np.pi / 2 else np.cos(t) * m + np.sin(t) * v
        frames.append(np.stack([z * 50.0 + 200.0, np.full(3, 200.0)], 1))
    return frames, 30


DEGENERATE = ["first", "second", "mid", "mid_cut", "orthogonal", "huge_first", "huge_mid"]


def _degenerate_case(case):
    """(frames, index of the rejected frame, cut flags, the error's pattern): a frame whose
    similarity fit fails (its points all at one place; orthogonal to the reference shape), or
    one beyond COORD_MAX (finite points whose RMS radius would overflow)."""
    if case == "orthogonal":
        frames, bad = _orthogonal_path()
        return frames, bad, (), "no similarity"
    frames = [FACE5 * 2 + 300.0 + 0.4 * np.sin(i) + 0.05 * i for i in range(24)]
    where = {"first": 0, "second": 1, "mid": 9, "mid_cut": 9, "huge_first": 0, "huge_mid": 9}[case]
    huge = case.startswith("huge")
    frames.insert(where, FACE5 * 1e160 if huge else np.full_like(FACE5, 330.0))
    msg = "expected coordinates within" if huge else "no similarity|same place"
    return frames, where, (where,) if case == "mid_cut" else (), msg


@pytest.mark.parametrize("case", DEGENERATE)
@pytest.mark.parametrize("kind", ["compiled", "python", "fixed_lag"])
@pytest.mark.parametrize("stamped", [False, True])
def test_a_frame_without_similarity_changes_nothing(case, kind, stamped):
    # issue 13: a frame whose similarity fit fails raises ValueError and leaves no trace: the next
    # frames give what they give without it (before: the Python path raised TypeError on every later
    # frame once that frame had set the reference shape; the compiled path stayed stuck on it)
    frames, bad, cuts, msg = _degenerate_case(case)
    ts = [0.5 + i / 30.0 + 0.002 * (i % 3) for i in range(len(frames))]
    cls = PyStabilizer if kind == "python" else LandmarkStabilizer
    mode = "fixed_lag" if kind == "fixed_lag" else "causal"
    st_, ref = cls(mode=mode), cls(mode=mode)
    if kind == "compiled":
        assert st_._core is not None
    outs, want = [], []
    for i, f in enumerate(frames):
        t = ts[i] if stamped else None
        if i == bad:
            with pytest.raises(ValueError, match=msg):
                st_.update(f, t, cut=i in cuts)
            continue
        outs.append(st_.update(f, t, cut=i in cuts))
        want.append(ref.update(f, t, cut=i in cuts))
    outs += st_.flush()
    want += ref.flush()
    assert len(outs) == len(want) and sum(o is not None for o in outs) >= len(frames) - 5
    for o, w in zip(outs, want):
        assert (o is None and w is None) or np.array_equal(o, w)


@pytest.mark.parametrize("case", DEGENERATE)
def test_a_frame_without_similarity_is_the_same_in_both_paths(case):
    frames, bad, cuts, msg = _degenerate_case(case)
    a, b = _pair()
    for i, f in enumerate(frames):
        if i == bad:
            errors = []
            for s in (a, b):
                with pytest.raises(ValueError, match=msg) as e:
                    s.update(f, cut=i in cuts)
                errors.append(str(e.value))
            assert errors[0] == errors[1]
            continue
        got, want = a.update(f, cut=i in cuts), b.update(f, cut=i in cuts)
        assert np.max(np.abs(got - want)) < 1e-9 * 40.0
        assert (a._n, a._use_t, a._frame) == (b._n, b._use_t, b._frame)
