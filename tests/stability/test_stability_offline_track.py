"""``_core.stab_offline_track``, the one call that runs the offline mode of a track without
timestamps (cuts, then every clean shot): against the step-by-step path (the shots one by one
through ``_core.stab_offline_clean`` and the numpy reference pipeline), the shots it leaves
to Python, both CPU builds, and its argument checks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _core
from ffaccel.stability import _bank, _cuts, stabilize_track
from ffaccel.stability import stabilize as S

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cpu_builds import digests_of_both_builds  # noqa: E402
from stability_offline_reference import stabilize_offline_reference  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "real_tracks"
FACE5 = np.array([[-20.0, -12.0], [20.0, -12.0], [0.0, 5.0], [-15.0, 22.0], [15.0, 22.0]])


def _track(seed: int, frames: int, n_pts: int = 5, turn: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = FACE5 if n_pts == 5 else rng.uniform(-30, 30, (n_pts, 2))
    ang = turn * np.sin(np.arange(frames) / 7.0)
    rot = np.stack([np.cos(ang), -np.sin(ang), np.sin(ang), np.cos(ang)], 1).reshape(-1, 2, 2)
    pts = np.einsum("tij,nj->tni", rot, shape) * rng.uniform(0.5, 5) + rng.uniform(0, 1000, 2)
    return pts + rng.normal(0, 1.0, pts.shape)


def _call(track: np.ndarray, given: list[int] | None = None, **change):
    z = track
    t_len, n, _ = z.shape
    flags = np.zeros(t_len, np.uint8)
    if given:
        flags[given] = 1
    args = dict(zip(("pad", "outlier", "floor", "low", "mad_to_var", "ends", "coef", "warm", "norms", "gamma", "erode",
                     "average"), S._track_args(n, int(_bank.padded_length(t_len)).bit_length())))
    kw = dict(z=z, detect=given is None, move=_cuts.MOVE, zoom=_cuts.ZOOM, turn=_cuts.TURN, shape=_cuts.SHAPE, **args,
              flags=flags, out=np.full(z.shape, -7.0))
    kw.update(change)
    left = _core.stab_offline_track(**kw)
    return left, kw["flags"], kw["out"]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 300), st.sampled_from([2, 5, 68]), st.integers(0, 3),
       st.booleans(), st.booleans())
def test_done_shots_equal_the_shot_by_shot_path_and_the_rest_are_marked(seed, frames, n_pts, n_cuts, miss, glitch):
    rng = np.random.default_rng(seed)
    z = _track(seed, frames, n_pts)
    cuts = sorted({int(c) for c in rng.integers(1, max(frames, 2), n_cuts)} - {0}) if frames > 1 else []
    for c in cuts:  # a jump to another place: the cut rule finds it
        z[c:] += 400.0
    if miss and frames > 3:
        z[rng.integers(0, frames)] = np.nan
    if glitch and frames > 10:
        z[frames // 2] += 25.0
    left, flags, out = _call(z)
    starts = [0, *np.flatnonzero(flags & 1).tolist()]
    valid = ~np.isnan(z[:, 0, 0])
    assert starts[1:] == _cuts.cut_flags(z[..., 0] + 1j * z[..., 1], valid)  # the numpy cut rule
    assert left == sum(bool(flags[a] & 2) for a in starts)
    for a, b in zip(starts, [*starts[1:], frames]):
        if flags[a] & 2:  # left to Python: untouched
            assert np.all(out[a:b] == -7.0)
            continue
        seg = np.ascontiguousarray(z[a:b])  # done: what the clean-shot call gives, and the reference
        n = _bank.padded_length(b - a)
        want = np.empty_like(seg)
        floor, low = S._channel_limits(n_pts)
        coef, warm = _bank._recursions()
        if not _core.stab_offline_clean(seg, n, _bank._PAD, S.OUTLIER, floor, low, _bank._MAD_TO_SIGMA2, _bank._ENDS,
                                        coef, warm, _bank._noise_gains(n), 1.5, 3, 5, want):
            # a glitch dropped: the one-call path fills it as the Python shot path does
            want = S._offline_segment(seg, np.ones(len(seg), bool), None)
        assert np.array_equal(out[a:b], want)
        ref = stabilize_offline_reference(seg, cuts=[], end_frames=0)  # the core has no end step (_ends, Python)
        assert np.max(np.abs(out[a:b] - ref)) < 1e-9 * 100.0
    # and the public call, which smooths the shots left in Python, equals the reference
    got, ref = stabilize_track(z), stabilize_offline_reference(z)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    if np.isfinite(ref).any():
        assert np.nanmax(np.abs(got - ref)) < 1e-9 * 100.0


def _one_call_against_the_python_path(path: Path) -> int:
    """Checks one real nod track (below); returns how many frames its glitch test drops."""
    # real tracks whose glitch test drops frames (a 1,000-frame back-and-forth of each nod
    # clip, as the benchmark's cost row): no shot is left to Python, and each equals the
    # Python shot path (numpy.interp between kept frames, the line through 4 at an end) byte
    # for byte
    with np.load(path) as d:
        det = d["detected"].astype(np.float64)
    z = np.ascontiguousarray(np.concatenate([det if k % 2 == 0 else det[::-1] for k in range(1000 // len(det) + 1)])[:1000])
    left, flags, out = _call(z)
    assert left == 0
    m = np.empty((5, 2))
    ch = np.empty((1000, 14))
    _core.stab_rigid(z, m, ch)
    dropped = S._outliers(ch, np.arange(1000.0))
    starts = [0, *np.flatnonzero(flags & 1).tolist()]
    want = np.concatenate([S._offline_segment(np.ascontiguousarray(z[a:b]), np.ones(b - a, bool), None)
                           for a, b in zip(starts, [*starts[1:], 1000])])
    assert np.array_equal(out, want)
    return int(dropped.sum())


def test_dropped_glitches_stay_on_the_one_call_path():
    drops = [_one_call_against_the_python_path(p) for p in sorted(DATA.glob("nod_*.npz"))]
    assert sum(d > 0 for d in drops) >= 2, drops  # not vacuous: most of these tracks drop frames


def test_given_cuts_are_read_from_the_flags():
    z = _track(3, 200)
    left, flags, out = _call(z, given=[80, 150])
    assert left == 0 and np.flatnonzero(flags).tolist() == [80, 150]
    want = stabilize_offline_reference(z, cuts=[80, 150], end_frames=0)
    assert np.max(np.abs(out - want)) < 1e-7
    assert np.array_equal(out, stabilize_track(z, cuts=[150, 80], end_frames=0))


def test_short_shots_and_missed_frames_are_left_to_python():
    z = _track(4, 120)
    z[60] = np.nan
    left, flags, out = _call(z, given=[100])
    assert left == 2 and flags[0] == 2 and flags[100] == 3  # the shot with a miss; the 20-frame one
    assert np.all(out == -7.0)


def test_both_cpu_builds_give_the_same_bytes():
    script = f"""
import hashlib, glob, numpy as np
from ffaccel.stability import stabilize_track
h = hashlib.sha256()
for f in sorted(glob.glob({str(DATA)!r} + "/*.npz")):
    with np.load(f) as d:
        z = d["detected"].astype(np.float64)
    h.update(stabilize_track(z).tobytes()); h.update(stabilize_track(z, cuts=[]).tobytes())
print(h.hexdigest())
"""
    assert len(list(DATA.glob("*.npz"))) >= 5
    v3, base = digests_of_both_builds(script)
    assert v3 == base


def test_bad_arguments_are_refused_before_anything_is_written():
    z = _track(5, 100)
    for change, match in ((dict(flags=np.zeros(99, np.uint8)), "flags"), (dict(out=np.empty((99, 5, 2))), "out"),
                          (dict(zoom=1.0), "zoom"), (dict(norms=np.ones((3, 4))), "norms"),
                          (dict(pad=0), "pad"), (dict(low=np.arange(14, dtype=np.int32)[::-1].copy()), "low"),
                          (dict(z=np.zeros((0, 5, 2))), "z")):
        with pytest.raises(ValueError, match=match):
            _call(z, **change)
    with pytest.raises(ValueError, match="overlap"):
        _call(z, out=z)
    for name in ("out", "flags"):
        ro = np.zeros(z.shape) if name == "out" else np.zeros(len(z), np.uint8)
        ro.flags.writeable = False
        with pytest.raises(TypeError):
            _call(z, **{name: ro})
    with pytest.raises(TypeError):  # flags must be uint8 as they are (an output)
        _call(z, flags=np.zeros(len(z), np.int32))
