"""Pickling a LandmarkStabilizer (issue 13): the compiled causal state (_core.StabCausal) is
serialised with the rest, so a pickled stabiliser goes on exactly as the original would."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import LandmarkStabilizer

FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])
compiled_only = pytest.mark.skipif(not hasattr(_core, "StabCausal"), reason="this build has no compiled causal mode")


class PyStabilizer(LandmarkStabilizer):
    _compiled = False  # the Python reference


def _frames(n=70, seed=5):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = FACE5 * 2.5 + 400.0 + np.array([0.8 * i, 0.3 * np.sin(i / 4.0)]) + rng.normal(0, 0.6, FACE5.shape)
        out.append(None if i in (17, 18, 40) else f)
    out[50] = out[50] + 300.0  # a jump: the cut rule starts a new shot
    return out


@pytest.mark.parametrize("kind", [
    pytest.param("compiled", marks=compiled_only), "python", "fixed_lag"])
@pytest.mark.parametrize("at", [0, 1, 2, 17, 19, 30, 52])
@pytest.mark.parametrize("stamped", [False, True])
def test_a_pickled_stabilizer_goes_on_as_the_original(kind, at, stamped):
    frames = _frames()
    ts = [1.0 + i / 30.0 + 0.001 * (i % 4) for i in range(len(frames))]
    cls = PyStabilizer if kind == "python" else LandmarkStabilizer
    a = cls(mode="fixed_lag" if kind == "fixed_lag" else "causal")
    assert (a._core is not None) == (kind == "compiled")
    for i in range(at):
        a.update(frames[i], ts[i] if stamped else None, cut=i == 60)
    b = pickle.loads(pickle.dumps(a))
    assert b is not a and (b._core is None) == (a._core is None) and (a._core is None or b._core is not a._core)
    for i in range(at, len(frames)):
        t = ts[i] if stamped else None
        got, want = b.update(frames[i], t, cut=i == 60), a.update(frames[i], t, cut=i == 60)
        assert (got is None and want is None) or np.array_equal(got, want), i
    fa, fb = a.flush(), b.flush()
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))


@compiled_only
def test_the_core_state_round_trips_and_rejects_anything_else():
    st = LandmarkStabilizer(mode="causal")
    for f in _frames()[:10]:
        st.update(f)
    state = st._core.__getstate__()
    assert isinstance(state, bytes) and len(state) % 8 == 0
    again = pickle.loads(pickle.dumps(st._core))
    assert again.__getstate__() == state
    fresh = _core.StabCausal.__new__(_core.StabCausal)
    for bad in (b"", b"abc", state[:-8], state + state[-8:], b"\0" * 8 + state[8:]):
        with pytest.raises(ValueError, match="state: expected"):
            fresh.__setstate__(bad)
    n_bad = bytearray(state)  # N = 1 (n_ follows the version, 37 double constants and 3 more): refused
    n_idx = 8 * (1 + 37 + 3)
    n_bad[n_idx:n_idx + 8] = np.float64(1.0).tobytes()
    with pytest.raises(ValueError, match="state: expected"):
        fresh.__setstate__(bytes(n_bad))
    with pytest.raises(TypeError):
        fresh.__setstate__("not bytes")


@compiled_only
def test_a_fresh_stabilizer_pickles_and_fixes_its_own_n():
    b = pickle.loads(pickle.dumps(LandmarkStabilizer(mode="causal")))
    out = b.update(FACE5 + 100.0)
    assert out.shape == (5, 2)
    with pytest.raises(ValueError, match="points"):
        b.update(np.zeros((4, 2)) + 100.0)


@compiled_only
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([0.0, 1.0, -1.0, 2.0, 3.0, 1e300, np.nan, 0.5])),
                min_size=1, max_size=4))
def test_a_corrupted_core_state_is_refused_or_runs_safely(edits):
    # any value anywhere in a state: __setstate__ refuses it (ValueError) or the object runs without crashing
    a = LandmarkStabilizer(mode="causal")
    for f in _frames()[:12]:
        a.update(f)
    vals = np.frombuffer(a._core.__getstate__(), np.float64).copy()
    for pos, v in edits:
        vals[pos % len(vals)] = v
    fresh = _core.StabCausal.__new__(_core.StabCausal)
    try:
        fresh.__setstate__(vals.tobytes())
    except ValueError as e:
        assert "state: expected" in str(e)
        return
    with np.errstate(all="ignore"):
        for f in _frames()[12:20]:
            try:
                out = fresh.miss(1.0, False) if f is None else fresh.feed(f, 1.0, False)
            except ValueError:
                continue
            assert out is None or out is False or out.shape == (5, 2)
        fresh.miss(1.0, False)


def test_a_python_path_pickle_from_before_the_fourth_differences_goes_on():
    # A Python-path stabiliser pickled before the noise level read fourth differences has
    # none of their state: it loads, and goes on as one that has just lost it (the fourth
    # differences start again from the next four measured frames).
    frames = _frames()
    a = PyStabilizer(mode="causal")
    for f in frames[:30]:
        a.update(f)
    old = dict(a.__dict__)
    for k in ("_last_y3", "_last_y4", "_mad4", "_mad4_n", "_mad4_seed"):
        del old[k]
    b = PyStabilizer.__new__(PyStabilizer)
    b.__setstate__(pickle.loads(pickle.dumps(old)))
    outs = [b.update(f) for f in frames[30:]]
    assert all(o is None or np.all(np.isfinite(o)) for o in outs) and sum(o is not None for o in outs) > 30
