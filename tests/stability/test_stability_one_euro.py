"""OneEuroFilter: contract, state size, speed adaptation, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import OneEuroFilter
from ffaccel.stability._face import project_template

FACE = project_template(scale=2.0, center=(640, 360))


def _run(flt, frames):
    return np.stack([flt.update(f) for f in frames])


def test_state_is_at_most_1kb():
    f = OneEuroFilter()
    _run(f, FACE[None] + np.random.default_rng(0).normal(0, 1, (5, 68, 2)))
    assert f.state_nbytes <= 1024


def test_first_order_lowpass_matches_closed_form():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, freq=30.0)
    f.update(np.zeros((1, 2)))
    out = f.update(np.ones((1, 2)))
    a = 1.0 / (1.0 + 30.0 / (2 * np.pi))
    assert np.allclose(out, a)


def test_beta_reduces_ramp_lag():
    truth = FACE[None] + np.arange(60)[:, None, None] * np.array([3.0, 0.0])
    lag = {}
    for beta in (0.0, 0.05):
        err = (_run(OneEuroFilter(min_cutoff=0.5, beta=beta), truth) - truth)[40:, :, 0]
        lag[beta] = -err.mean() / 3.0
    assert lag[0.05] < 0.5 * lag[0.0]


def test_timestamps_equal_fixed_rate():
    z = FACE[None] + np.random.default_rng(1).normal(0, 1, (10, 68, 2))
    a = _run(OneEuroFilter(freq=25.0), z)
    f = OneEuroFilter()
    b = np.stack([f.update(p, timestamp=i / 25.0) for i, p in enumerate(z)])
    assert np.allclose(a, b, atol=1e-3)


def test_reset_restores_fresh_behaviour():
    z = FACE[None] + np.random.default_rng(2).normal(0, 1, (20, 68, 2))
    f = OneEuroFilter(beta=0.01)
    _run(f, z[:10])
    f.reset()
    assert np.array_equal(_run(f, z[10:]), _run(OneEuroFilter(beta=0.01), z[10:]))


@settings(max_examples=20, deadline=None)
@given(st.floats(-300, 300), st.floats(-300, 300))
def test_translation_equivariant(dx, dy):
    z = FACE[None] + np.random.default_rng(3).normal(0, 1.5, (15, 68, 2))
    a = _run(OneEuroFilter(beta=0.01), z)
    b = _run(OneEuroFilter(beta=0.01), z + [dx, dy])
    assert np.allclose(b, a + [dx, dy], atol=2e-3)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.05, 10.0), st.floats(0.0, 1.0))
def test_still_input_stays_still(mc, beta):
    f = OneEuroFilter(min_cutoff=mc, beta=beta)
    for _ in range(5):
        out = f.update(FACE)
    assert np.allclose(out, FACE, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"min_cutoff": 0.0}, ValueError, "min_cutoff"),
        ({"beta": -1.0}, ValueError, "beta"),
        ({"beta": "x"}, TypeError, "beta"),
        ({"d_cutoff": float("nan")}, ValueError, "d_cutoff"),
        ({"freq": 0}, ValueError, "freq"),
    ],
)
def test_bad_parameters(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        OneEuroFilter(**kwargs)


def test_huge_jump_does_not_poison_the_state():
    f = OneEuroFilter(beta=0.01)
    f.update(FACE)
    f.update(FACE + 5000.0)  # 150,000 px/s: beyond float16
    out = f.update(FACE + 5000.0)
    assert np.isfinite(out).all()


def test_bad_input():
    f = OneEuroFilter()
    with pytest.raises(ValueError, match="points"):
        f.update(np.zeros((3, 3)))
    f.update(FACE, timestamp=1.0)
    with pytest.raises(ValueError, match="timestamp"):
        f.update(FACE, timestamp=1.0)
    with pytest.raises(ValueError, match="points"):
        f.update(np.where(FACE > 0, np.inf, 0))
    with pytest.raises(ValueError, match=r"points: expected coordinates within \+-1e\+12 px, got -5e\+13"):
        f.update(FACE - 5e13)
