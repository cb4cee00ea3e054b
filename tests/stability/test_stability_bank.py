"""The offline level bank (``stability._bank.smooth_channels`` over ``_core.stab_bank``)
against its numpy reference (tests/stability_bank_reference.py: the FFT form it replaced),
on random channels, on the real MTCNN tracks through ``stabilize_track``, under both CPU
builds, and with bad input to the binding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import _bank, stabilize_track

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cpu_builds import digests_of_both_builds  # noqa: E402
from stability_bank_reference import smooth_channels_reference  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "real_tracks"
FILES = sorted(DATA.glob("*.npz"))


def _channels(seed: int, t_len: int, n_ch: int, motion: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, C) smooth motion plus white noise, and the noise variances (C,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(t_len, dtype=float)[:, None]
    sig = rng.uniform(0.001, 0.05, n_ch)
    y = (rng.normal(0, 3, n_ch) + motion * np.sin(2 * np.pi * t / rng.uniform(8, 80, n_ch))
         + 0.01 * rng.normal(0, 1, n_ch) * t + rng.normal(0, 1, (t_len, n_ch)) * sig)
    return y, sig**2


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(3, 400), st.integers(1, 16), st.floats(0.0, 2.0),
       st.lists(st.integers(0, 16), min_size=1, max_size=16))
def test_bank_equals_the_numpy_reference(seed, t_len, n_ch, motion, lows):
    y, r = _channels(seed, t_len, n_ch, motion)
    lightest = np.array([lows[k % len(lows)] for k in range(n_ch)], np.intp)  # any order
    got = _bank.smooth_channels(y, r, lightest)
    want = smooth_channels_reference(y, r, lightest)
    assert got.shape == (t_len, n_ch) and got.dtype == np.float64
    assert np.max(np.abs(got - want)) <= 1e-9 * (1.0 + np.max(np.abs(y)))


@pytest.mark.parametrize("gamma, erode, average", [(1.0, 0, 0), (2.5, 1, 2), (1.5, 6, 9)])
def test_bank_options_equal_the_reference(gamma, erode, average):
    y, r = _channels(3, 257, 6, 1.0)
    lightest = np.array([0, 0, 2, 4, 4, 9])
    got = _bank.smooth_channels(y, r, lightest, gamma=gamma, erode=erode, average=average)
    want = smooth_channels_reference(y, r, lightest, gamma=gamma, erode=erode, average=average)
    assert np.max(np.abs(got - want)) <= 1e-9 * (1.0 + np.max(np.abs(y)))


def test_a_straight_line_passes_nearly_unchanged():
    # (the periodic filler bends it by a few % of one frame's step at the ends, 1e-6 of it in the
    # middle: the reference does the same)
    t = np.arange(600, dtype=float)[:, None]
    y = 0.3 + 0.02 * t * np.array([1.0, -2.0, 0.5])
    out = _bank.smooth_channels(y, np.full(3, 1e-6), np.zeros(3, np.intp))
    assert np.max(np.abs(out - y)[200:400]) < 1e-4 * 0.04
    assert np.max(np.abs(out - y)) < 0.05 * 0.04


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_real_tracks_equal_the_reference_through_stabilize_track(path, monkeypatch):
    with np.load(path) as d:
        z = d["detected"].astype(np.float64)
        width = float(d["face_width"])
    got = stabilize_track(z)
    monkeypatch.setattr(_bank, "smooth_channels", smooth_channels_reference)
    want = stabilize_track(z)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) / width < 1e-9


def test_both_cpu_builds_give_the_same_bytes():
    # the bank alone, then whole offline tracks (every offline kernel)
    script = (
        "import hashlib, numpy as np\n"
        "from ffaccel.stability import _bank\n"
        "rng = np.random.default_rng(5)\n"
        "h = hashlib.sha256()\n"
        "for t_len, n_ch in ((3, 1), (40, 14), (1000, 14), (777, 5)):\n"
        "    y = np.cumsum(rng.normal(0, 0.01, (t_len, n_ch)), axis=0) + rng.normal(0, 0.003, (t_len, n_ch))\n"
        "    low = np.where(np.arange(n_ch) < 4, 0, 4)\n"
        "    h.update(_bank.smooth_channels(y, np.full(n_ch, 1e-5), low).tobytes())\n"
        "from ffaccel.stability import stabilize_track\n"  # every offline kernel (cuts, rigid, glitches, noise, points)
        "for t_len in (7, 150, 1000):\n"
        "    face = rng.uniform(-30, 30, (5, 2))\n"
        "    pts = face + np.cumsum(rng.normal(0, 2, (t_len, 1, 2)), axis=0) + rng.normal(0, 1, (t_len, 5, 2)) + 500\n"
        "    pts[rng.integers(0, t_len, 3)] += 40.0\n"
        "    pts[rng.integers(0, t_len, 2)] = np.nan\n"
        "    h.update(stabilize_track(pts).tobytes())\n"
        "print(h.hexdigest())\n"
    )
    v3, base = digests_of_both_builds(script)
    assert v3 == base


# ----------------------------------------------------------------- the binding's checks
def _args(t_len=50, n_ch=3):
    n = _bank.padded_length(t_len)
    coef, warm = _bank._recursions()
    return dict(padded=np.zeros((n, -(-n_ch // 4) * 4)), t_len=t_len, pad=_bank._PAD, ends=_bank._ENDS, coef=coef, warm=warm,
                norm=_bank._noise_gains(n), sdr=np.full(n_ch, 0.01), low=np.zeros(n_ch, np.int32), gamma=1.5,
                erode=3, average=5, out=np.empty((t_len, n_ch)))


def test_binding_runs_on_read_only_inputs():
    a = _args()
    for k in ("padded", "sdr", "low"):
        a[k].flags.writeable = False
    _core.stab_bank(**a)
    assert np.all(a["out"] == 0.0)


@pytest.mark.parametrize("change, match", [
    (dict(t_len=2), "t_len"),
    (dict(t_len=5000), "t_len"),
    (dict(pad=0), "t_len"),
    (dict(low=np.array([0, 4, 2], np.int32)), "non-decreasing"),
    (dict(low=np.array([0, 0, 17], np.int32)), "low"),
    (dict(sdr=np.full(4, 0.01)), "low"),
    (dict(padded=np.zeros((256, 3))), "padded"),
    (dict(padded=np.zeros((256, 8))), "padded"),
    (dict(out=np.empty((49, 3))), "out"),
    (dict(ends=np.zeros(17, np.int32)), "ends"),
    (dict(warm=np.full(17, -1, np.int32)), "warm"),
    (dict(erode=-1), "erode"),
])
def test_binding_rejects_bad_arguments(change, match):
    a = _args()
    a.update(change)
    with pytest.raises(ValueError, match=match):
        _core.stab_bank(**a)


def test_binding_rejects_an_output_that_overlaps_an_input():
    a = _args()
    a["padded"] = np.zeros((256, 4))
    a["sdr"], a["low"] = np.full(4, 0.01), np.zeros(4, np.int32)
    a["out"] = a["padded"][: a["t_len"]]
    with pytest.raises(ValueError, match="overlap"):
        _core.stab_bank(**a)


def test_binding_refuses_a_read_only_or_wrong_dtype_output():
    a = _args()
    a["out"].flags.writeable = False
    with pytest.raises(TypeError):
        _core.stab_bank(**a)
    a = _args()
    a["out"] = np.empty((50, 3), np.float32)
    with pytest.raises(TypeError):
        _core.stab_bank(**a)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1e2), st.floats(0.05, 0.35), st.floats(0.0, 12.0))
def test_noise_level_is_not_read_from_smooth_fast_motion(seed, sigma, omega, speed):
    # white noise of std sigma plus a sinusoid up to 1.7 Hz at 30 fps (a fast nod is 1.5 Hz)
    # whose peak speed is up to 12 sigma a frame: the estimate moves by less than 15 % from
    # that of the noise alone (the same draw; 0.94-1.09 over 3,000 random draws), and is
    # sigma within a median's scatter; the second differences this replaced read the
    # fastest of these motions as 1.25x the noise or more
    rng = np.random.default_rng(seed)
    t = np.arange(300, dtype=float)
    noise = rng.normal(0, sigma, 300)[:, None]
    y = noise + (speed * sigma / omega) * np.sin(omega * t + rng.uniform(0, 6.3))[:, None]
    valid, floor = np.ones(300, np.uint8), np.array([0.0])
    moving, still = np.sqrt(_bank.noise_variance(y, valid, floor)[0]), np.sqrt(_bank.noise_variance(noise, valid, floor)[0])
    assert 0.85 < moving / still < 1.15
    assert 0.55 < still / sigma < 1.6
    if omega >= 0.3 and speed >= 10:
        def d2(x):
            return np.median(np.abs(np.diff(x[:, 0], 2))) / (0.6745 * np.sqrt(6.0))
        assert d2(y) / d2(noise) > 1.2


def test_noise_level_needs_runs_of_five_measured_frames():
    y = np.random.default_rng(0).normal(0, 1, (20, 2))
    floor = np.array([1e-6, 2e-6])
    valid = np.ones(20, np.uint8)
    valid[4::5] = 0  # runs of four measured frames only
    np.testing.assert_array_equal(_bank.noise_variance(y, valid, floor), floor)
    np.testing.assert_array_equal(_bank.noise_variance(y[:4], np.ones(4, np.uint8), floor), floor)
    valid[:] = 0
    valid[5:10] = 1  # one run: frames 5..9
    d4 = np.abs((((y[5] - 4 * y[6]) + 6 * y[7]) - 4 * y[8]) + y[9])
    want = d4**2 * (1.0 / (0.6745**2 * 70.0))
    assert np.all(want > floor)
    np.testing.assert_array_equal(_bank.noise_variance(y, valid, floor), want)
