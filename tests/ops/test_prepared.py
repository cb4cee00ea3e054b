"""Prepared calls (ffaccel.prepare) and the lean path of the plain ops (ffaccel._fast).

A plan and the cached plain path must give the plain op's bytes, and every bad argument
after preparation must still raise the plain op's named error with nothing written.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _fast
from ffaccel.ops import prepared
from strategies import affine_matrices, images

RNG = np.random.default_rng(7)
M = np.array([[0.9, 0.1, 2.0], [-0.1, 0.9, 3.0]])


def _frame(h=96, w=128, c=3):
    return RNG.integers(0, 256, (h, w, c), dtype=np.uint8)


def _paste_args(n=None):
    frame = _frame()
    shape = (32, 32, 3) if n is None else (n, 32, 32, 3)
    crop = RNG.integers(0, 256, shape, dtype=np.uint8)
    mask = RNG.random(shape[:-1]).astype(np.float32)
    mats = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -20.0]])
    if n is not None:
        mats = np.stack([mats + [[0, 0, -15.0 * i], [0, 0, -5.0 * i]] for i in range(n)])
    return frame, crop, mask, mats


def _no_fallback(plan):
    """The plan, made to fail loudly if a call leaves its prepared path for the plain op."""
    def boom(*args, **kwargs):
        raise AssertionError("the plan fell back to the plain op")

    boom.__name__ = plan.op.__name__
    plan.op = boom
    return plan


def _same_error(plain, plan, exc=(ValueError, TypeError)):
    with pytest.raises(exc) as want:
        plain()
    with pytest.raises(type(want.value)) as got:
        plan()
    assert str(got.value) == str(want.value)
    return str(got.value)


# --------------------------------------------------------------------------- same bytes


@settings(max_examples=40, deadline=None)
@given(src=images(max_side=48), m=affine_matrices(max_offset=40.0), w=st.integers(1, 40), h=st.integers(1, 40),
       border=st.sampled_from(["replicate", "constant"]), compat=st.sampled_from([None, "opencv5.0"]))
def test_warp_plan_same_bytes(src, m, w, h, border, compat):
    out = np.empty((h, w) + src.shape[2:], src.dtype)
    plan = ffaccel.prepare(ffaccel.warp_affine, src, m, (w, h), border=border, border_value=7, compat=compat, out=out)
    _fast.cache_clear()
    want = ffaccel.warp_affine(src, m, (w, h), border=border, border_value=7, compat=compat)  # full checks
    again = ffaccel.warp_affine(src, m, (w, h), border=border, border_value=7, compat=compat)  # cached spec
    got = _no_fallback(plan)(src, m, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again, want)
    m2 = m.copy()
    m2[:, 2] += 1.25  # the next frame: another matrix
    np.testing.assert_array_equal(plan(src, m2, out=out),
                                  ffaccel.warp_affine(src, m2, (w, h), border=border, border_value=7, compat=compat))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), side=st.integers(8, 40), seed=st.integers(0, 2**16))
def test_warp_batch_plan_same_bytes(n, side, seed):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    mats = np.stack([[[1.0 + 0.1 * i, 0.05, -3.0 * i], [-0.05, 0.9, -2.0 * i]] for i in range(n)])
    plan = ffaccel.prepare("warp_affine_batch", src, mats, (side, side))
    got = plan(src, mats)
    np.testing.assert_array_equal(got, ffaccel.warp_affine_batch(src, mats, (side, side)))
    # another N: the plan hands the call to the plain op, which handles it
    more = np.concatenate([mats, mats[:1]])
    np.testing.assert_array_equal(plan(src, more), ffaccel.warp_affine_batch(src, more, (side, side)))


@settings(max_examples=30, deadline=None)
@given(h=st.integers(40, 120), w=st.integers(40, 120), crop=st.integers(4, 48), tx=st.floats(-60, 20),
       ty=st.floats(-60, 20), scale=st.floats(0.5, 2.0), mode=st.sampled_from(["new", "out", "inplace"]),
       mask_u8=st.booleans(), seed=st.integers(0, 2**16))
def test_paste_plan_same_bytes(h, w, crop, tx, ty, scale, mode, mask_u8, seed):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    c = rng.integers(0, 256, (crop, crop, 3), dtype=np.uint8)
    m = (rng.integers(0, 256, (crop, crop), dtype=np.uint8) if mask_u8
         else rng.random((crop, crop)).astype(np.float32))
    mat = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
    want = ffaccel.paste_back(frame, c, m, mat)
    if mode == "inplace":
        f2 = frame.copy()
        plan = _no_fallback(ffaccel.prepare(ffaccel.paste_back, f2, c, m, mat, inplace=True))
        assert plan(f2, c, m, mat) is f2
        np.testing.assert_array_equal(f2, want)
        return
    out = np.empty_like(frame) if mode == "out" else None
    before = frame.copy()
    plan = _no_fallback(ffaccel.prepare(ffaccel.paste_back, frame, c, m, mat, out=out))
    got = plan(frame, c, m, mat, out=out)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(frame, before)  # frame untouched when not in place


@pytest.mark.parametrize("n", [1, 3])
def test_paste_batch_plan_same_bytes(n):
    frame, crops, masks, mats = _paste_args(n)
    out = np.empty_like(frame)
    plan = _no_fallback(ffaccel.prepare(ffaccel.paste_back_batch, frame, crops, masks, mats, out=out))
    np.testing.assert_array_equal(plan(frame, crops, masks, mats, out=out),
                                  ffaccel.paste_back_batch(frame, crops, masks, mats))


def test_paste_multiband_plan_same_bytes():
    frame, crop, mask, mat = _paste_args()
    plan = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, mat, blend="multiband", levels=3)
    np.testing.assert_array_equal(plan(frame, crop, mask, mat),
                                  ffaccel.paste_back(frame, crop, mask, mat, blend="multiband", levels=3))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), sigma=st.floats(0.1, 6.0), u8=st.booleans(),
       seed=st.integers(0, 2**16))
def test_feather_plan_same_bytes(h, w, sigma, u8, seed):
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 256, (h, w), dtype=np.uint8) if u8 else rng.random((h, w)).astype(np.float32)
    out = np.empty_like(mask)
    plan = ffaccel.prepare(ffaccel.feather_mask, mask, sigma, out=out)
    _fast.cache_clear()
    want = ffaccel.feather_mask(mask, sigma)
    np.testing.assert_array_equal(ffaccel.feather_mask(mask, sigma), want)  # cached spec
    np.testing.assert_array_equal(_no_fallback(plan)(mask, out=out), want)


def test_plan_follows_new_buffers_of_the_same_signature():
    src, src2 = _frame(), _frame()
    out, out2 = np.empty((40, 40, 3), np.uint8), np.empty((40, 40, 3), np.uint8)
    plan = ffaccel.prepare(ffaccel.warp_affine, src, M, (40, 40), out=out)
    plan(src, M, out=out)
    assert plan(src2, M, out=out2) is out2
    np.testing.assert_array_equal(out2, ffaccel.warp_affine(src2, M, (40, 40)))
    np.testing.assert_array_equal(out, ffaccel.warp_affine(src, M, (40, 40)))


def test_plan_takes_other_valid_arrays_through_the_plain_op():
    src = _frame()
    plan = ffaccel.prepare(ffaccel.warp_affine, src, M, (40, 40))
    small = _frame(50, 60, 4)
    np.testing.assert_array_equal(plan(small, M), ffaccel.warp_affine(small, M, (40, 40)))
    ro = src.copy()
    ro.flags.writeable = False  # a read-only input is fine
    np.testing.assert_array_equal(plan(ro, M), ffaccel.warp_affine(src, M, (40, 40)))
    listed = M.tolist()  # a list matrix: checked by the op's full rules
    np.testing.assert_array_equal(plan(src, listed), ffaccel.warp_affine(src, M, (40, 40)))


def test_doctest_example_runs():
    result = doctest.testmod(prepared, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- bad input after preparation

BAD_MATRICES = [
    np.array([[np.nan, 0, 0], [0, 1.0, 0]]),
    np.array([[np.inf, 0, 0], [0, 1.0, 0]]),
    np.zeros((2, 3)),
    np.array([[1e-40, 0, 0], [0, 1e-40, 0]]),  # inverse entries past 2**100
    np.array([[2.0 ** 101, 0, 0], [0, 1.0, 0]]),
    np.ones((3, 3)),
    np.ones((2, 3), np.complex128),
    [[1, 0, 0], [0, "a", 0]],
]


@pytest.mark.parametrize("bad", BAD_MATRICES, ids=range(len(BAD_MATRICES)))
def test_warp_plan_bad_matrix_raises_before_writing(bad):
    src = _frame()
    out = np.full((32, 32, 3), 17, np.uint8)
    plan = ffaccel.prepare(ffaccel.warp_affine, src, M, (32, 32), out=out)
    ffaccel.warp_affine(src, M, (32, 32), out=out)  # the plain op's spec is cached too
    out[:] = 17
    msg = _same_error(lambda: ffaccel.warp_affine(src, bad, (32, 32), out=out), lambda: plan(src, bad, out=out))
    assert msg.startswith("matrix:")
    assert (out == 17).all()


@pytest.mark.parametrize("bad", BAD_MATRICES, ids=range(len(BAD_MATRICES)))
def test_paste_plan_bad_matrix_raises_before_writing(bad):
    frame, crop, mask, mat = _paste_args()
    before = frame.copy()
    plan = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, mat, inplace=True)
    msg = _same_error(lambda: ffaccel.paste_back(frame, crop, mask, bad, inplace=True),
                      lambda: plan(frame, crop, mask, bad))
    assert msg.startswith("matrix:")
    np.testing.assert_array_equal(frame, before)


def test_batch_plans_bad_matrix_count_and_values():
    frame, crops, masks, mats = _paste_args(3)
    before = frame.copy()
    plan = ffaccel.prepare(ffaccel.paste_back_batch, frame, crops, masks, mats, inplace=True)
    bad = mats.copy()
    bad[2, 0, 0] = np.nan
    _same_error(lambda: ffaccel.paste_back_batch(frame, crops, masks, bad, inplace=True),
                lambda: plan(frame, crops, masks, bad))
    _same_error(lambda: ffaccel.paste_back_batch(frame, crops, masks, mats[:2], inplace=True),
                lambda: plan(frame, crops, masks, mats[:2]))
    np.testing.assert_array_equal(frame, before)
    src = _frame()
    out = np.full((3, 16, 16, 3), 5, np.uint8)
    wplan = ffaccel.prepare(ffaccel.warp_affine_batch, src, mats, (16, 16), out=out)
    msg = _same_error(lambda: ffaccel.warp_affine_batch(src, bad, (16, 16), out=out), lambda: wplan(src, bad, out=out))
    assert msg.startswith("matrices:")
    assert (out == 5).all()


def test_warp_plan_overlapping_out_raises():
    buf = np.zeros(2 * 96 * 128 * 3, np.uint8)
    src = buf[: 96 * 128 * 3].reshape(96, 128, 3)
    out = np.empty((32, 32, 3), np.uint8)
    plan = ffaccel.prepare(ffaccel.warp_affine, src, M, (32, 32), out=out)
    ffaccel.warp_affine(src, M, (32, 32), out=out)
    inside = buf[1000: 1000 + 32 * 32 * 3].reshape(32, 32, 3)  # same signature as out, inside src
    assert _fast.out_signature(inside) == _fast.out_signature(out)
    src[:] = 9
    msg = _same_error(lambda: ffaccel.warp_affine(src, M, (32, 32), out=inside), lambda: plan(src, M, out=inside))
    assert msg.startswith("out: expected memory apart from src")
    assert (buf[: 96 * 128 * 3] == 9).all()


def test_paste_plan_overlaps_raise():
    frame, crop, mask, mat = _paste_args()
    out = np.empty_like(frame)
    plan = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, mat, out=out)
    big = np.zeros((96 * 128 * 3 * 2,), np.uint8)
    f2 = big[: frame.size].reshape(frame.shape)
    f2[:] = frame
    crop_in_frame = big[100: 100 + crop.size].reshape(crop.shape)  # overlaps f2
    out_in_frame = big[frame.size // 2: frame.size // 2 + frame.size].reshape(frame.shape)
    snapshot = big.copy()
    _same_error(lambda: ffaccel.paste_back(f2, crop_in_frame, mask, mat, out=out),
                lambda: plan(f2, crop_in_frame, mask, mat, out=out))
    _same_error(lambda: ffaccel.paste_back(f2, crop, mask, mat, out=out_in_frame),
                lambda: plan(f2, crop, mask, mat, out=out_in_frame))
    _same_error(lambda: ffaccel.paste_back(frame, crop, mask, mat, out=crop),
                lambda: plan(frame, crop, mask, mat, out=crop))
    np.testing.assert_array_equal(big, snapshot)


def test_plans_refuse_read_only_outputs_and_wrong_arrays():
    frame, crop, mask, mat = _paste_args()
    plan = ffaccel.prepare(ffaccel.paste_back, frame, crop, mask, mat, inplace=True)
    ro = frame.copy()
    ro.flags.writeable = False
    msg = _same_error(lambda: ffaccel.paste_back(ro, crop, mask, mat, inplace=True), lambda: plan(ro, crop, mask, mat))
    assert msg.startswith("frame: expected a writeable array")
    _same_error(lambda: ffaccel.paste_back(frame, crop.astype(np.int16), mask, mat, inplace=True),
                lambda: plan(frame, crop.astype(np.int16), mask, mat))
    _same_error(lambda: ffaccel.paste_back(frame, crop, mask[:-1], mat, inplace=True),
                lambda: plan(frame, crop, mask[:-1], mat))
    _same_error(lambda: ffaccel.paste_back(frame, crop, [[0.0]], mat, inplace=True),
                lambda: plan(frame, crop, [[0.0]], mat))
    src = _frame()
    out = np.zeros((32, 32, 3), np.uint8)
    wplan = ffaccel.prepare(ffaccel.warp_affine, src, M, (32, 32), out=out)
    out.flags.writeable = False
    _same_error(lambda: ffaccel.warp_affine(src, M, (32, 32), out=out), lambda: wplan(src, M, out=out))
    _same_error(lambda: ffaccel.warp_affine(src.astype(np.float64), M, (32, 32)), lambda: wplan(src.astype(np.float64), M))
    _same_error(lambda: ffaccel.warp_affine(src[:, ::2], M, (32, 32)), lambda: wplan(src[:, ::2], M))
    mask2 = np.ones((20, 20), np.float32)
    fout = np.zeros_like(mask2)
    fplan = ffaccel.prepare(ffaccel.feather_mask, mask2, 2.0, out=fout)
    _same_error(lambda: ffaccel.feather_mask(mask2, 2.0, out=mask2), lambda: fplan(mask2, out=mask2))
    assert (fout == 0).all() and (mask2 == 1).all()


def test_prepare_checks_its_arguments():
    src = _frame()
    with pytest.raises(ValueError, match="^op: expected one of"):
        ffaccel.prepare(np.add, src)
    with pytest.raises(ValueError, match="^op: expected one of"):
        ffaccel.prepare("composite", src)
    with pytest.raises(TypeError, match="^warp_affine: "):
        ffaccel.prepare(ffaccel.warp_affine, src)  # dsize missing
    with pytest.raises(ValueError, match="^matrix: expected shape"):
        ffaccel.prepare(ffaccel.warp_affine, src, np.eye(3), (8, 8))
    out = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match="^out: expected dtype uint8"):
        ffaccel.prepare(ffaccel.warp_affine, src, M, (8, 8), out=out.astype(np.float32))
    plan = ffaccel.prepare(ffaccel.warp_affine, src, M, (8, 8), out=out)
    assert (out == 0).all()  # preparing writes nothing
    assert "WarpPlan(warp_affine" in repr(plan)


def test_cached_plain_path_keeps_the_error_contract():
    """After a call has cached a spec, the same signature with a bad matrix or overlap is refused by name."""
    src = _frame()
    out = np.full((24, 24, 3), 3, np.uint8)
    ffaccel.warp_affine(src, M, (24, 24), out=out)
    out[:] = 3
    with pytest.raises(ValueError, match="^matrix: expected an invertible matrix"):
        ffaccel.warp_affine(src, np.zeros((2, 3)), (24, 24), out=out)
    with pytest.raises(TypeError, match="^dsize: expected integer"):
        ffaccel.warp_affine(src, M, (24.0, 24), out=out)
    with pytest.raises(ValueError, match="^border: expected one of"):
        ffaccel.warp_affine(src, M, (24, 24), border="wrap", out=out)
    assert (out == 3).all()


def test_one_plan_from_several_threads():
    import threading

    src0 = _frame()
    out0 = np.empty((48, 48, 3), np.uint8)
    plan = ffaccel.prepare(ffaccel.warp_affine, src0, M, (48, 48), out=out0)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        src = rng.integers(0, 256, src0.shape, dtype=np.uint8)
        out = np.empty_like(out0)
        for i in range(200):
            m = M + [[0, 0, seed + i * 0.25], [0, 0, -i * 0.5]]
            plan(src, m, out=out)
            if not np.array_equal(out, ffaccel.warp_affine(src, m, (48, 48))):
                errors.append((seed, i))
                return

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_stored_specs_are_dropped_at_exit_before_the_extension():
    # The lean path's specs hold extension objects; they must go at exit (atexit runs before
    # module teardown), or nanobind reports them as leaked instances (seen with cupy on GPU).
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import atexit, numpy as np, ffaccel
        from ffaccel import _fast
        frame = np.zeros((64, 64, 3), np.uint8)
        m = np.array([[1.0, 0, 4], [0, 1.0, 4]])
        for _ in range(3):
            ffaccel.warp_affine(frame, m, (32, 32))
            ffaccel.paste_back(frame, np.zeros((32, 32, 3), np.uint8), np.ones((32, 32), np.float32), m)
        assert _fast.CACHE, "the lean path stored no spec: this test would prove nothing"
        atexit._run_exitfuncs()
        assert not _fast.CACHE, "a stored spec survived the exit handlers"
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "leaked" not in res.stderr, res.stderr


def test_leak_debug_hook_names_what_holds_a_spec_at_exit():
    # FFACCEL_DEBUG_LEAKS=1: after the exit handler empties the cache, any spec still alive is
    # counted and its holder named (the GPU runs' open leak report, docs/fuzzing.md).
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np, ffaccel
        from ffaccel import _fast
        frame = np.zeros((64, 64, 3), np.uint8)
        m = np.array([[1.0, 0, 4], [0, 1.0, 4]])
        ffaccel.warp_affine(frame, m, (32, 32))
        ffaccel.warp_affine(frame, m, (32, 32))
        if KEEP:
            kept_by_this_list = list(_fast.CACHE.values())
    """)
    env = {**os.environ, "FFACCEL_DEBUG_LEAKS": "1"}
    for keep in (False, True):
        res = subprocess.run([sys.executable, "-c", code.replace("KEEP", str(keep))], capture_output=True,
                             text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr
        assert "references to extension objects after the exit handler" in res.stderr, res.stderr
        assert "Exception ignored" not in res.stderr, res.stderr
        # the spec's extension object, and the spec's own holder: this script's list
        assert ("1 x WarpCall held by ffaccel.ops.warp_affine.WarpSpec" in res.stderr) == keep, res.stderr
        assert ("WarpSpec <- builtins.list of 1" in res.stderr) == keep, res.stderr
