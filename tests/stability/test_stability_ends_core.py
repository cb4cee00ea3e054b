"""The end step's compiled halves (``_core.stab_end_prepare`` / ``stab_end_finish``, what
``stability._ends.straighten_end`` calls): the same bytes as the step written with numpy calls
(``_numpy_end`` below, the package's code before the halves were compiled), and the checks of
their arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import _bank
from ffaccel.stability._ends import _NOISE_FRAMES, END_KAPPA, straighten_end
from ffaccel.stability.stabilize import _channel_limits


def _numpy_end(out, det, first, stop, floor, times=None, frames=12):
    """straighten_end with numpy calls (the split, the noise level and the way back compiled)."""
    fin = np.flatnonzero(~np.isnan(out[first:stop, 0, 0]))
    if frames <= 0 or len(fin) == 0:
        return
    end = first + int(fin[-1])
    start = end - frames
    if start < first or np.isnan(out[start:end + 1, 0, 0]).any():
        return
    d = det[max(first, end + 1 - 2 * _NOISE_FRAMES):end + 1]
    d = d[~np.isnan(d[:, 0, 0])][-_NOISE_FRAMES:]
    if len(d) < 5:
        return
    n = out.shape[1]
    pts = np.concatenate([d, out[start:end + 1]])
    m, both = np.empty((n, 2)), np.empty((len(pts), 4 + 2 * n))
    size = _core.stab_rigid(pts, m, both)
    sd = np.sqrt(_bank.noise_variance(both[:len(d)], np.ones(len(d), np.uint8), floor))
    ch = both[len(d):]
    t = np.arange(frames + 1, dtype=np.float64) if times is None else times[start:end + 1] - times[start]
    slope = (t @ (ch - ch[0])) / (t @ t)
    line = ch[0] + t[:, None] * slope
    dev = np.sort(np.abs(ch[1:] - line[1:]), axis=0)
    mid = frames // 2
    dev = dev[mid] if frames % 2 else 0.5 * (dev[mid - 1] + dev[mid])
    w = np.clip(2.0 - dev / (END_KAPPA * sd), 0.0, 1.0)
    if not w.any():
        return
    _core.stab_points(ch[1:] + w * (line[1:] - ch[1:]), m, size, out[start + 1:end + 1])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(6, 130), st.sampled_from([2, 5, 68]), st.integers(1, 15),
       st.floats(0.0, 3.0), st.booleans(), st.integers(0, 3))
def test_same_bytes_as_the_numpy_calls(seed, t_len, n, frames, wobble, timestamps, holes):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 30.0, (n, 2)) + 400.0
    k = np.arange(t_len, dtype=float)
    det = base[None] + np.stack([0.5 * k, 3.0 * np.sin(k / 4.0)], 1)[:, None] + rng.normal(0, 1.0, (t_len, n, 2))
    out = det + rng.normal(0, 1.0, (1, n, 2)) + wobble * rng.normal(0, 1.0, (t_len, 1, 2))
    for _ in range(holes):  # missed detections, and NaN rows in out (the end is found past them)
        det[rng.integers(0, t_len)] = np.nan
    if holes > 1:
        out[rng.integers(t_len - 3, t_len):] = np.nan
    if holes > 2:
        out[rng.integers(0, t_len)] = np.nan
    first = int(rng.integers(0, t_len // 3 + 1))
    stop = int(rng.integers(max(first + 1, 2 * t_len // 3), t_len + 1))
    times = np.cumsum(rng.uniform(0.5, 1.5, t_len)) / 30.0 if timestamps else None
    floor = _channel_limits(n)[0]
    want, got = out.copy(), out.copy()
    _numpy_end(want, det, first, stop, floor, times, frames)
    straighten_end(got, det, first, stop, floor, times, frames)
    assert want.tobytes() == got.tobytes()


def _args(t_len=30, n=5, frames=12):
    rng = np.random.default_rng(1)
    z = rng.normal(0, 20.0, (t_len, n, 2)) + 300.0
    return dict(out=z.copy(), det=z.copy(), first=0, stop=t_len, frames=frames, noise_frames=_NOISE_FRAMES,
                floor=_channel_limits(n)[0], mad_to_var=_bank._MAD_TO_SIGMA2, work=np.empty((2 * frames + 4, 4 + 2 * n)))


def test_prepare_writes_the_split_of_the_tail():
    a = _args()
    start, size = _core.stab_end_prepare(**a)
    cen, ch, sd = a["work"][:13], a["work"][13:26], a["work"][26]
    assert start == 30 - 1 - 12 and size > 0
    assert np.array_equal(cen, ch - ch[0]) and (sd > 0).all()
    assert _core.stab_end_prepare(**{**a, "first": 20})[0] == -1  # a shot shorter than the tail


@pytest.mark.parametrize("key, bad, msg", [
    ("first", 30, "first, stop"), ("stop", 31, "first, stop"), ("first", -1, "first, stop"),
    ("frames", 0, "frames"), ("noise_frames", 0, "frames, noise_frames"),
    ("det", np.zeros((29, 5, 2)), "det"), ("floor", np.ones(13), "floor"),
    ("work", np.empty((27, 14)), "work"), ("work", np.empty((28, 13)), "work"),
])
def test_prepare_refuses_bad_arguments(key, bad, msg):
    a = _args()
    a[key] = bad
    with pytest.raises(ValueError, match=f"stab_end_prepare: {msg}"):
        _core.stab_end_prepare(**a)


def test_prepare_refuses_a_read_only_or_overlapping_work_array():
    a = _args()
    a["work"].flags.writeable = False
    with pytest.raises(TypeError):
        _core.stab_end_prepare(**a)
    a = _args(t_len=40)
    a["work"] = a["out"].reshape(-1)[:28 * 14].reshape(28, 14)  # a view of out
    with pytest.raises(ValueError, match="stab_end_prepare: work: expected an array apart"):
        _core.stab_end_prepare(**a)


def test_prepare_raises_for_a_degenerate_frame():
    a = _args()
    a["out"][-3] = 5.0  # every point at one place
    with pytest.raises(ValueError, match="no face size"):
        _core.stab_end_prepare(**a)


def _finish_args():
    a = _args()
    start, size = _core.stab_end_prepare(**a)
    t = np.arange(13, dtype=float)
    return dict(work=a["work"], num=t @ a["work"][:13], tt=float(t @ t), t=t, kappa=END_KAPPA, size=size,
                out=np.zeros((12, 5, 2))), start


@pytest.mark.parametrize("key, bad, msg", [
    ("work", np.empty((27, 14)), "work"), ("num", np.ones(13), "num, t"), ("t", np.ones(12), "num, t"),
    ("out", np.zeros((12, 4, 2)), "work"), ("out", np.zeros((12, 5, 3)), "out"), ("size", 0.0, "size"),
    ("size", np.nan, "size"), ("tt", 0.0, "tt"), ("tt", np.inf, "tt"),
])
def test_finish_refuses_bad_arguments(key, bad, msg):
    a, _ = _finish_args()
    a[key] = bad
    with pytest.raises(ValueError, match=f"stab_end_finish: {msg}"):
        _core.stab_end_finish(**a)


def test_finish_refuses_read_only_or_overlapping_output():
    a, _ = _finish_args()
    a["out"].flags.writeable = False
    with pytest.raises(TypeError):
        _core.stab_end_finish(**a)
    a["out"] = a["work"].reshape(-1)[:120].reshape(12, 5, 2)
    with pytest.raises(ValueError, match="stab_end_finish: out: expected an array apart"):
        _core.stab_end_finish(**a)


def test_finish_leaves_out_alone_at_zero_weight():
    a, _ = _finish_args()
    a["out"] = np.full((12, 5, 2), 7.0)
    a["work"][26] = 1e-300  # sd: every departure is huge, every weight 0
    assert _core.stab_end_finish(**a) is False and (a["out"] == 7.0).all()
