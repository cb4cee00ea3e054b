"""EndOfSequenceGuard and quantize_hysteresis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.stability import EndOfSequenceGuard, quantize_hysteresis

M = np.array([[0.8012, 0.0503, -310.37], [-0.0503, 0.8012, -120.91]])
Q_ROT, Q_TR = 1 / 2048, 1 / 16


def _crop_pos(m, p):
    return m[:, :2] @ p + m[:, 2]


def test_pass_through_before_tail_and_without_length():
    g = EndOfSequenceGuard(tail_frames=3, total_frames=10)
    out, params = g.update(M, 6, {"gain": 1.2})
    assert np.array_equal(out, M) and params == {"gain": 1.2}
    free = EndOfSequenceGuard()
    assert np.array_equal(free.update(M, 10**6)[0], M)


def test_tail_freezes_params_and_quantizes():
    g = EndOfSequenceGuard(tail_frames=3, total_frames=10)
    out, params = g.update(M, 7, {"gain": np.array([1.0, 1.1]), "gamma": 0.9})
    lin = out[:, :2] / Q_ROT
    assert np.allclose(lin, np.round(lin))  # rotation/scale on the 1/2048 grid
    anchor_img = np.linalg.solve(M[:, :2], np.array([128.0, 128.0]) - M[:, 2])
    pos = _crop_pos(out, anchor_img) / Q_TR
    assert np.allclose(pos, np.round(pos))  # face position on the 1/16 px grid
    assert np.abs(out[:, :2] - M[:, :2]).max() <= Q_ROT / 2 + 1e-12  # entering moves half a quantum at most
    _, params2 = g.update(M, 8, {"gain": np.array([2.0, 2.0]), "gamma": 0.5})
    assert params2["gamma"] == 0.9 and np.array_equal(params2["gain"], [1.0, 1.1])
    assert params["gamma"] == 0.9


def test_crossing_a_boundary_moves():
    g = EndOfSequenceGuard(tail_frames=5, total_frames=5)
    a, _ = g.update(M, 0)
    moved = M.copy()
    moved[0, 0] += 3 * Q_ROT
    b, _ = g.update(moved, 1)
    assert b[0, 0] - a[0, 0] == pytest.approx(2 * Q_ROT) or b[0, 0] - a[0, 0] == pytest.approx(3 * Q_ROT)
    assert b[0, 0] != a[0, 0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.floats(-0.999, 0.999)] * 6), min_size=1, max_size=8))
def test_changes_within_a_quantum_never_move(wobbles):
    g = EndOfSequenceGuard(tail_frames=20, total_frames=20)
    first, _ = g.update(M, 0)
    anchor_img = np.linalg.solve(M[:, :2], np.array([128.0, 128.0]) - M[:, 2])
    for k, w in enumerate(wobbles, start=1):
        w = np.array(w).reshape(2, 3)
        lin = first[:, :2] + w[:, :2] * Q_ROT
        # translation wobble measured where the guard measures it: at the anchor
        pos = _crop_pos(first, anchor_img) + w[:, 2] * Q_TR
        m = np.concatenate([lin, (pos - lin @ anchor_img)[:, None]], axis=1)
        out, _ = g.update(m, k)
        assert np.allclose(out, first, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(-100, 100), st.integers(-1000, 1000), st.sampled_from([1 / 16, 1 / 2048, 0.5]))
def test_quantize_hysteresis_properties(value, k, q):
    held = np.array([k * q])
    out = quantize_hysteresis(np.array([value]), held, q)
    assert np.allclose(out / q, np.round(out / q))  # always on the grid
    if abs(value - held[0]) < q * 0.999:
        assert out[0] == held[0]  # within one quantum: no move
    else:
        assert abs(out[0] - value) < q + 1e-9 and abs(out[0] - held[0]) <= abs(value - held[0]) + 1e-9


@pytest.mark.parametrize(
    "call, exc, word",
    [
        (lambda: EndOfSequenceGuard(tail_frames=0), ValueError, "tail_frames"),
        (lambda: EndOfSequenceGuard(quant_rotation=0), ValueError, "quant_rotation"),
        (lambda: EndOfSequenceGuard(quant_translation=-1), ValueError, "quant_translation"),
        (lambda: EndOfSequenceGuard(total_frames=0), ValueError, "total_frames"),
        (lambda: EndOfSequenceGuard().update(np.eye(3), 0), ValueError, "matrix"),
        (lambda: EndOfSequenceGuard().update(M, -1), ValueError, "frame_index"),
        (lambda: EndOfSequenceGuard().update(M, 1.5), TypeError, "frame_index"),
        (lambda: EndOfSequenceGuard().update(M, 0, [1]), TypeError, "params"),
        (lambda: EndOfSequenceGuard(total_frames=1).update(np.zeros((2, 3)), 0), ValueError, "matrix"),
    ],
)
def test_errors(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def _bench_methods():
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from real import methods

    return methods


def test_guard_on_a_track_holds_a_wobbling_crop_and_lets_a_move_through():
    # benchmarks/real/methods.guard_tail: the real-detector benchmark's guarded rows (issue 13's tail spikes)
    from ffaccel.stability import _realdata as rd

    m = _bench_methods()
    face = np.array([[-25.0, -10], [25, -10], [0, 8], [-18, 28], [18, 28]]) * 2 + [640, 360]
    track = np.repeat(face[None], 40, axis=0)
    rng = np.random.default_rng(1)
    wobble = track + rng.normal(0, 0.02, (40, 1, 2))  # far below one quantum (1 crop px ~ 0.6 % F)
    out = m.guard_tail(wobble)
    assert np.array_equal(out[:-m.GUARD_TAIL], wobble[:-m.GUARD_TAIL])  # before the tail: untouched
    corners = [rd.crop_corners(p) for p in out[-m.GUARD_TAIL:]]
    assert all(np.allclose(c, corners[0], atol=1e-9) for c in corners)  # in the tail: the crop holds
    moved = track.copy()
    moved[-5:] += [6.0, 0.0]  # a real move of 6 px (3 % F) in the tail goes through (to within a quantum)
    out = m.guard_tail(moved)
    shift = rd.crop_corners(out[-1]) - rd.crop_corners(out[-6])
    assert np.allclose(shift[:, 0], 6.0, atol=1.5) and np.allclose(shift[:, 1], 0.0, atol=1.5)
    assert rd.tail_spikes(m.guard_tail(wobble), track) == 0
    gap = wobble.copy()
    gap[-4] = np.nan  # a missed frame in the tail: no output there, a fresh guard after it
    out = m.guard_tail(gap)
    assert np.all(np.isnan(out[-4])) and np.all(np.isfinite(out[-3:]))
