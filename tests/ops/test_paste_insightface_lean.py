"""paste_back_insightface's lean path and its prepared plan (CPU): a call whose arrays have
the signature of one that passed every check skips the checks (``_core.InsightfaceCall``
re-checks the overlap and the matrix rules), and gives the bytes of the full path; a bad
call still raises the full path's named error with nothing written.

The GPU side (same bytes as the CPU, no synchronisation, graph capture) is in
tests/ops/test_prepared_cuda.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _core, _fast
from ffaccel.ops import paste_insightface as ins
from insightface_reference import face_matrix
from strategies import examples

GEN = "insightface-opencv5"  # any generation: the lean path must agree with the full one
LAUNCHED, BAD_SHAPE, BAD_MATRIX, OVERLAP = 0, 1, 2, 3


def _full(frame, crop, m, **kw):
    """The full path: every check, no spec (the cache is emptied first)."""
    _fast.cache_clear()
    return ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, **kw)


def _args(seed=0, h=180, w=240, size=90.0, angle=15.0):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    return frame, crop, face_matrix((w * 0.45, h * 0.55), size, angle)


@settings(max_examples=examples(40), deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.floats(4.0, 400.0), angle=st.floats(-180.0, 180.0),
       dx=st.floats(-150.0, 150.0), inplace=st.booleans(), with_out=st.booleans())
def test_lean_call_equals_full_path(seed, size, angle, dx, inplace, with_out):
    frame, crop, m0 = _args(seed, size=size, angle=angle)
    m = m0.copy()
    m[0, 2] += dx * m[0, 0]
    expected = _full(frame, crop, m)
    kw = {}
    if inplace:
        kw["inplace"] = True
    elif with_out:
        kw["out"] = np.full_like(frame, 7)
    _fast.cache_clear()
    ffaccel.paste_back_insightface(frame.copy(), crop, m0, compat=GEN, **kw)  # stores the spec
    assert len(_fast.CACHE) == 1
    work = frame.copy() if inplace else frame
    if with_out and not inplace:
        kw["out"] = np.full_like(frame, 7)
    got = ffaccel.paste_back_insightface(work, crop, m, compat=GEN, **kw)
    np.testing.assert_array_equal(got, expected)
    if with_out and not inplace:
        assert got is kw["out"]
    if inplace:
        assert got is work


def test_lean_call_skips_the_checks(monkeypatch):
    frame, crop, m = _args(12)
    out = np.empty_like(frame)
    _fast.cache_clear()
    ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, out=out)  # stores the spec
    expected = out.copy()
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, frame, crop, m, compat=GEN, out=out)

    def no_checks(*args, **kwargs):
        raise AssertionError("the full checks ran")

    monkeypatch.setattr(ins, "check", no_checks)
    out[:] = 0
    assert ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, out=out) is out
    np.testing.assert_array_equal(out, expected)
    out[:] = 0
    assert plan(frame, crop, m, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_lean_call_takes_every_matrix_form():
    frame, crop, m = _args(1)
    expected = _full(frame, crop, m)
    ffaccel.paste_back_insightface(frame, crop, m, compat=GEN)
    for form in (m.tolist(), m.astype(np.float32).astype(np.float64), np.asfortranarray(m), m.astype(np.int64)):
        want = expected if np.asarray(form).dtype != np.int64 else _full(frame, crop, np.asarray(form, np.float64))
        ffaccel.paste_back_insightface(frame, crop, m, compat=GEN)  # the spec again (_full empties the cache)
        np.testing.assert_array_equal(ffaccel.paste_back_insightface(frame, crop, form, compat=GEN), want)


@pytest.mark.parametrize("matrix, error", [
    (np.zeros((2, 3)), "matrix: expected an invertible matrix"),
    (np.array([[np.nan, 0, 0], [0, 1.0, 0]]), "matrix"),
    (np.eye(3), "matrix: expected shape (2, 3)"),
    (np.eye(2, 3)[None], "matrix: expected shape (2, 3)"),
    ("eye", "matrix"),
])
def test_lean_call_refuses_a_bad_matrix_with_nothing_written(matrix, error):
    frame, crop, m = _args(2)
    out = np.full_like(frame, 9)
    ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, out=np.empty_like(frame))  # stores the spec
    with pytest.raises((ValueError, TypeError), match=error.replace("(", r"\(").replace(")", r"\)")):
        ffaccel.paste_back_insightface(frame, crop, matrix, compat=GEN, out=out)
    assert (out == 9).all()


def test_lean_call_refuses_overlap_and_read_only_with_nothing_written():
    frame, crop, m = _args(3)
    out = np.empty_like(frame)
    ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, out=out)  # stores the spec
    # out over the frame itself: same signature as the stored call, so the lean path runs and
    # the extension's overlap test hands it to the full checks
    snapshot = frame.copy()
    with pytest.raises(ValueError, match="out"):
        ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, out=frame)
    np.testing.assert_array_equal(frame, snapshot)
    # a crop inside the frame's memory
    big = np.zeros((128 * 4, 128, 3), np.uint8)
    frame2 = big.reshape(-1)[: 180 * 240 * 3].reshape(180, 240, 3)
    crop2 = big.reshape(-1)[-128 * 128 * 3:].reshape(128, 128, 3)
    if np.shares_memory(frame2, crop2):
        with pytest.raises(ValueError, match="crop"):
            ffaccel.paste_back_insightface(frame2, crop2, m, compat=GEN, out=out)
    # in place into a read-only frame: the stored in-place spec does not match it
    work = frame.copy()
    ffaccel.paste_back_insightface(work, crop, m, compat=GEN, inplace=True)
    ro = frame.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="frame"):
        ffaccel.paste_back_insightface(ro, crop, m, compat=GEN, inplace=True)
    np.testing.assert_array_equal(ro, frame)


def test_lean_call_keeps_the_compat_and_argument_errors():
    frame, crop, m = _args(4)
    ffaccel.paste_back_insightface(frame, crop, m, compat=GEN)
    with pytest.raises(ValueError, match="compat"):
        ffaccel.paste_back_insightface(frame, crop, m, compat="insightface-opencv3")
    with pytest.raises(ValueError, match="out: expected None with inplace=True"):
        ffaccel.paste_back_insightface(frame, crop, m, compat=GEN, inplace=True, out=np.empty_like(frame))


def test_each_generation_through_the_lean_path():
    frame, crop, m = _args(5, size=120.0)
    for gen in ins._MODES:
        expected = _full(frame, crop, m) if gen == GEN else None
        _fast.cache_clear()
        first = ffaccel.paste_back_insightface(frame, crop, m, compat=gen)
        second = ffaccel.paste_back_insightface(frame, crop, m, compat=gen)  # the lean path
        np.testing.assert_array_equal(second, first)
        if expected is not None:
            np.testing.assert_array_equal(second, expected)


def test_copied_inputs_are_never_cached():
    frame, crop, m = _args(6)
    _fast.cache_clear()
    ffaccel.paste_back_insightface(frame[:, ::-1], crop, m, compat=GEN)  # a non-contiguous frame: copied first
    ffaccel.paste_back_insightface(frame, crop[:, :, ::-1], m, compat=GEN)  # stock's crop view: copied first
    assert len(_fast.CACHE) == 0


@pytest.mark.parametrize("crop_size", [23, 300])  # 300: a copy of over 128 KiB, which the allocator unmaps when freed
def test_copied_inputs_live_until_the_paste_is_done(crop_size):
    # A non-contiguous crop (stock's bgr_fake[:, :, ::-1]) or frame is copied before it is
    # read; the copy must outlive the kernel call (a build that freed it after the checks
    # read freed memory: its bytes then depended on what the allocator had put there).
    rng = np.random.default_rng(13)
    frame = rng.integers(0, 256, (59, 44, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (crop_size, crop_size + 1, 3), dtype=np.uint8)
    m = face_matrix((20.0, 30.0), 30.0, 10.0, crop=crop_size)
    expected = _full(frame, np.ascontiguousarray(crop[:, :, ::-1]), m)
    for sentinel in (0, 77, 255):
        out = np.full_like(frame, sentinel)
        junk = [np.full(crop.size, sentinel, np.uint8) for _ in range(4)]  # reuse freed blocks, if any
        ffaccel.paste_back_insightface(frame, crop[:, :, ::-1], m, compat=GEN, out=out)
        del junk
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ffaccel.paste_back_insightface(np.asfortranarray(frame), crop[:, :, ::-1], m,
                                                                 compat=GEN), expected)


def test_prepared_plan_equals_the_op():
    frame, crop, m = _args(7)
    out = np.empty_like(frame)
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, frame, crop, m, compat=GEN, out=out)
    assert isinstance(plan, ffaccel.InsightfacePlan)
    assert (out == out).all()  # made without writing: checked below through a fresh buffer
    for dx in (0.0, 30.0, -55.5):
        mm = m.copy()
        mm[0, 2] += dx
        assert plan(frame, crop, mm, out=out) is out
        np.testing.assert_array_equal(out, _full(frame, crop, mm))
    small = frame[:100, :120].copy()  # another shape: the plain op's checks and result
    np.testing.assert_array_equal(plan(small, crop, m), _full(small, crop, m))
    with pytest.raises(ValueError, match="matrix: expected an invertible matrix"):
        plan(frame, crop, np.zeros((2, 3)), out=out)
    inplace = ffaccel.prepare("paste_back_insightface", frame.copy(), crop, m, compat=GEN, inplace=True)
    work = frame.copy()
    assert inplace(work, crop, m) is work
    np.testing.assert_array_equal(work, _full(frame, crop, m))
    assert "InsightfacePlan(paste_back_insightface" in repr(inplace)


def test_prepare_writes_nothing():
    frame, crop, m = _args(8)
    out = np.full_like(frame, 5)
    snapshot = frame.copy()
    ffaccel.prepare(ffaccel.paste_back_insightface, frame, crop, m, compat=GEN, out=out)
    ffaccel.prepare(ffaccel.paste_back_insightface, frame, crop, m, compat=GEN, inplace=True)
    assert (out == 5).all()
    np.testing.assert_array_equal(frame, snapshot)


def test_plan_of_a_copied_example_takes_the_plain_op():
    frame, crop, m = _args(9)
    view = frame[:, ::-1]
    plan = ffaccel.prepare(ffaccel.paste_back_insightface, view, crop, m, compat=GEN)
    np.testing.assert_array_equal(plan(view, crop, m), _full(np.ascontiguousarray(view), crop, m))


def _call(frame, crop, out, in_place=False):
    u8 = _core.DType.U8
    h, w = frame.shape[:2]
    return _core.InsightfaceCall(_core.Image(0, h, w, 3, w * 3, 0, u8), _core.Image(0, h, w, 3, w * 3, 0, u8),
                                 _core.Image(0, 128, 128, 3, 384, 0, u8), frame.nbytes, crop.nbytes, -1, in_place)


@pytest.mark.parametrize("matrix, status", [
    (np.zeros((2, 3)), BAD_MATRIX),
    (np.array([[np.inf, 0, 0], [0, 1.0, 0]]), BAD_MATRIX),
    (np.array([[2.0 ** 101, 0, 0], [0, 1.0, 0]]), BAD_MATRIX),
    (np.eye(2, 3)[None], BAD_SHAPE),
    (np.eye(3), BAD_SHAPE),
])
def test_insightface_call_refuses_and_writes_nothing(matrix, status):
    frame, crop, m = _args(10)
    out = np.full_like(frame, 17)
    call = _call(frame, crop, out)
    assert call.workspace_floats(np.ascontiguousarray(matrix)) == -status
    ws = np.empty(call.workspace_floats(m), np.float32)
    p = _core.host_ptr
    assert call(p(frame), p(crop), p(out), np.ascontiguousarray(matrix), 1, 1, p(ws), ws.size, 0) == status
    assert (out == 17).all()
    assert call(p(frame), p(crop), p(out), m, 1, 1, p(ws), ws.size, 0) == LAUNCHED
    np.testing.assert_array_equal(out, _full(frame, crop, m))


def test_insightface_call_refuses_overlap():
    frame, crop, m = _args(11)
    call = _call(frame, crop, frame)
    ws = np.empty(call.workspace_floats(m), np.float32)
    p = _core.host_ptr
    snapshot = frame.copy()
    assert call(p(frame), p(crop), p(frame), m, 1, 1, p(ws), ws.size, 0) == OVERLAP  # out is the frame
    inside = frame.reshape(-1)[: 128 * 128 * 3]  # a crop inside the frame
    assert call(p(frame), p(inside), p(np.empty_like(frame)), m, 1, 1, p(ws), ws.size, 0) == OVERLAP
    np.testing.assert_array_equal(frame, snapshot)
