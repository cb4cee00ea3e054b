"""warp_affine / warp_affine_batch on the CPU path: references, OpenCV, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from cpu_builds import digests_of_both_builds
from strategies import affine_matrices, border_values, borders, compat_modes, dsizes, examples, images
from warp_reference import REFERENCES, warp_default, warp_opencv4, warp_opencv5

SETTINGS = settings(max_examples=examples(80), deadline=None)


@SETTINGS
@given(src=images(), m=affine_matrices(), dsize=dsizes, border=borders, bval=border_values, compat=compat_modes)
def test_matches_reference(src, m, dsize, border, bval, compat):
    got = ffaccel.warp_affine(src, m, dsize, border=border, border_value=bval, compat=compat)
    want = REFERENCES[compat](src, m, dsize, border, bval)
    assert got.dtype == src.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_reference_is_not_trivially_equal_across_modes():
    # The three formulas differ on real data; a test that compared a mode with itself
    # would not notice. (Guards the references, not the library.)
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    m = np.array([[0.731, 0.213, -20.37], [-0.19, 0.822, 11.71]])
    a, b, c = (f(src, m, (150, 140)) for f in (warp_default, warp_opencv5, warp_opencv4))
    assert np.count_nonzero(a != c) > 100 and np.count_nonzero(b != c) > 100


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("border", ["replicate", "constant"])
def test_compat_matches_installed_cv2(opencv_mode, channels, border):
    """compat="opencv" and the mode it names against the installed OpenCV (tests/run.sh runs
    this under every supported release: 4.8-4.13 -> opencv4, 5.0 and 5.1 with IPP off ->
    opencv5.0)."""
    cv2, mode = opencv_mode
    rng = np.random.default_rng(channels + (10 if mode == "opencv4" else 0))
    bm = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    for trial in range(25):
        src = rng.integers(0, 256, (int(rng.integers(1, 300)), int(rng.integers(1, 300)), channels), dtype=np.uint8)
        if trial % 3 == 0 and channels != 4:
            src = src.astype(np.float32) + np.float32(0.37)
        m = _random_matrix(rng)
        dsize = (int(rng.integers(1, 260)), int(rng.integers(1, 130)))
        bval = float(rng.uniform(0, 255))
        want = cv2.warpAffine(src, m, dsize, flags=cv2.INTER_LINEAR, borderMode=bm, borderValue=(bval,) * 4)
        for compat in ("opencv", mode):
            got = ffaccel.warp_affine(src, m, dsize, border=border, border_value=bval, compat=compat)
            np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"compat={compat} cv2 {cv2.__version__}")


def test_face_crop_1080p_all_modes_vs_cv2(opencv_mode):
    """The FaceFusion workload: a 512 crop of a 1080p frame, INTER_AREA treated as LINEAR."""
    cv2, compat = opencv_mode
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    m = np.array([[0.4312, -0.1187, -512.77], [0.1187, 0.4312, -201.31]])
    want = cv2.warpAffine(frame, m, (512, 512), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_AREA)
    np.testing.assert_array_equal(ffaccel.warp_affine(frame, m, (512, 512), compat=compat), want)


def test_deprecated_opencv5_alias_warns_and_means_opencv5_0():
    rng = np.random.default_rng(3)
    src = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    m = _random_matrix(rng)
    with pytest.warns(DeprecationWarning, match="opencv5.0"):
        old = ffaccel.warp_affine(src, m, (33, 21), compat="opencv5")
    np.testing.assert_array_equal(old, ffaccel.warp_affine(src, m, (33, 21), compat="opencv5.0"))


def _random_matrix(rng) -> np.ndarray:
    ang = rng.uniform(-np.pi, np.pi)
    s = np.exp(rng.uniform(np.log(0.1), np.log(8)))
    return np.array([[s * np.cos(ang), -s * np.sin(ang) + rng.uniform(-0.3, 0.3), rng.uniform(-300, 300)],
                     [s * np.sin(ang), s * np.cos(ang), rng.uniform(-300, 300)]])


@settings(max_examples=examples(30), deadline=None)
@given(src=images(), n=st.integers(1, 40), dsize=dsizes, compat=compat_modes, seed=st.integers(0, 1000))
def test_batch_equals_singles(src, n, dsize, compat, seed):
    rng = np.random.default_rng(seed)
    ms = np.stack([_random_matrix(rng) for _ in range(n)])
    got = ffaccel.warp_affine_batch(src, ms, dsize, compat=compat)
    assert got.shape[0] == n
    for i in range(n):
        np.testing.assert_array_equal(got[i], ffaccel.warp_affine(src, ms[i], dsize, compat=compat))


def test_identity_is_exact_copy():
    rng = np.random.default_rng(3)
    src = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    for compat in (None, "opencv5.0", "opencv4"):
        np.testing.assert_array_equal(ffaccel.warp_affine(src, eye, (53, 37), compat=compat), src)


def test_integer_shift_is_exact_and_replicates():
    src = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    shifted = ffaccel.warp_affine(src, np.array([[1.0, 0, 2], [0, 1.0, 1]]), (6, 5))
    np.testing.assert_array_equal(shifted[1:, 2:], src[:-1, :-2])
    np.testing.assert_array_equal(shifted[0, 2:], src[0, :-2])  # row -1 clamps to row 0


def test_constant_border_fills_outside():
    src = np.full((10, 10, 3), 200, np.uint8)
    out = ffaccel.warp_affine(src, np.array([[1.0, 0, 100], [0, 1.0, 100]]), (8, 8), border="constant",
                              border_value=(1, 2, 3))
    assert (out == np.array([1, 2, 3], np.uint8)).all()


def test_out_is_used_and_returned():
    src = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    m = np.array([[0.8, 0.1, 3.0], [-0.1, 0.8, 2.0]])
    out = np.empty((20, 30, 3), np.uint8)
    res = ffaccel.warp_affine(src, m, (30, 20), out=out)
    assert res is out
    np.testing.assert_array_equal(out, ffaccel.warp_affine(src, m, (30, 20)))


def test_source_untouched_and_not_aliased():
    src = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    before = src.copy()
    ffaccel.warp_affine(src, np.array([[1.2, 0, 0], [0, 1.2, 0]]), (40, 40))
    np.testing.assert_array_equal(src, before)


def test_torch_cpu_tensor_round_trip():
    torch = pytest.importorskip("torch")
    src = np.random.default_rng(0).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    m = np.array([[0.9, 0.1, 1.0], [0.0, 1.1, -2.0]])
    got = ffaccel.warp_affine(torch.from_numpy(src), torch.from_numpy(m), (16, 16))
    assert isinstance(got, torch.Tensor) and got.device.type == "cpu"
    np.testing.assert_array_equal(got.numpy(), ffaccel.warp_affine(src, m, (16, 16)))


# ---------------------------------------------------------------- bad input

GOOD_SRC = np.zeros((20, 20, 3), np.uint8)
GOOD_M = np.array([[1.0, 0, 0], [0, 1.0, 0]])


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(src=np.zeros((20, 20, 3), np.int16)), TypeError, "src: expected dtype|got int16"),
        (dict(src=np.zeros((20, 20, 2), np.uint8)), ValueError, "src: expected|channel|got 2"),
        (dict(src=np.zeros((20, 20, 4), np.float32)), ValueError, "src: expected|channel|got 4"),
        (dict(src=np.zeros((20, 20, 3, 1), np.uint8)), ValueError, "src: expected shape"),
        (dict(src=np.zeros((0, 20, 3), np.uint8)), ValueError, "src: expected a non-empty image"),
        (dict(src=np.zeros((20, 40, 3), np.uint8)[:, ::2]), ValueError, "src: expected a C-contiguous"),
        (dict(src=[[1, 2], [3, 4]]), TypeError, "src: expected a numpy array"),
        (dict(matrix=np.zeros((2, 3))), ValueError, "matrix: expected an invertible matrix|(matrix 0)"),
        (dict(matrix=np.array([[1.0, 0, np.nan], [0, 1, 0]])), ValueError, "matrix: expected finite values, got NaN"),
        (dict(matrix=np.array([[1.0, 0, np.inf], [0, 1, 0]])), ValueError, "matrix: expected finite values, got NaN"),
        (dict(matrix=np.eye(3)), ValueError, "matrix: expected shape (2, 3)"),
        (dict(matrix=np.array([[1e-200, 0, 0], [0, 1e-200, 0]])), ValueError, "matrix: expected an invertible matrix|(matrix 0)"),
        (dict(matrix="abc"), TypeError, "matrix: expected"),
        (dict(dsize=(0, 10)), ValueError, "dsize: expected width and height in 1..65535"),
        (dict(dsize=(10, -1)), ValueError, "dsize: expected width and height in 1..65535"),
        (dict(dsize=(10.5, 10)), TypeError, "dsize: expected integer width and height"),
        (dict(dsize=10), TypeError, "dsize: expected (width, height)"),
        (dict(border="reflect"), ValueError, "border: expected one of"),
        (dict(border_value=(1, 2, 3, 4, 5)), TypeError, "border_value"),
        (dict(border_value=float("nan")), ValueError, "border_value: expected finite float32 values"),
        (dict(compat="opencv3"), ValueError, "compat: expected None"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, words):
    args = dict(src=GOOD_SRC, matrix=GOOD_M, dsize=(8, 8))
    args.update(kwargs)
    with pytest.raises(exc) as info:
        ffaccel.warp_affine(args.pop("src"), args.pop("matrix"), args.pop("dsize"), **args)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


@pytest.mark.parametrize(
    "out, exc, words",
    [
        (np.zeros((8, 9, 3), np.uint8), ValueError, "out: expected shape (8, 8, 3)"),
        (np.zeros((8, 8, 3), np.float32), TypeError, "out: expected dtype uint8"),
        (np.zeros((8, 16, 3), np.uint8)[:, ::2], ValueError, "out: expected a C-contiguous"),
    ],
)
def test_bad_out_is_refused_and_left_alone(out, exc, words):
    sentinel = out.copy()
    with pytest.raises(exc) as info:
        ffaccel.warp_affine(GOOD_SRC, GOOD_M, (8, 8), out=out)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)
    np.testing.assert_array_equal(out, sentinel)


def test_out_overlapping_src_is_refused():
    buf = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="out: expected memory apart from"):
        ffaccel.warp_affine(buf, GOOD_M, (20, 10), out=buf[:10])


def test_bad_matrix_leaves_out_untouched():
    out = np.full((8, 8, 3), 7, np.uint8)
    with pytest.raises(ValueError):
        ffaccel.warp_affine(GOOD_SRC, np.zeros((2, 3)), (8, 8), out=out)
    assert (out == 7).all()


def test_batch_bad_matrices():
    with pytest.raises(ValueError, match=r"matrices: expected shape \(N, 2, 3\)"):
        ffaccel.warp_affine_batch(GOOD_SRC, GOOD_M, (8, 8))
    with pytest.raises(ValueError, match="matrices: expected at least one matrix"):
        ffaccel.warp_affine_batch(GOOD_SRC, np.zeros((0, 2, 3)), (8, 8))
    with pytest.raises(ValueError, match="matrices: expected an invertible matrix|(matrix 1)"):
        ffaccel.warp_affine_batch(GOOD_SRC, np.stack([GOOD_M, np.zeros((2, 3))]), (8, 8))


# ---------------------------------------------------------------- CPU SIMD path edges
#
# The x86-64-v3 build walks rows in blocks of 8 pixels: blocks whose taps are all
# inside take an interior path, the others a vector border path, and row leftovers and
# non-finite coordinates the scalar formula. These cases sit on the seams.

ALL_LAYOUTS = [(np.uint8, 1), (np.uint8, 3), (np.uint8, 4), (np.float32, 1), (np.float32, 3)]


def _image(rng, h, w, dtype, c):
    if dtype == np.uint8:
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return (rng.random((h, w, c)) * 255).astype(np.float32)


def _check_all_modes(src, m, dsize, border="replicate", bval=17.0):
    for compat in (None, "opencv5.0", "opencv4"):
        got = ffaccel.warp_affine(src, m, dsize, border=border, border_value=bval, compat=compat)
        want = REFERENCES[compat](src, m, dsize, border, bval)
        np.testing.assert_array_equal(got, want, err_msg=f"compat={compat} border={border} dsize={dsize} m={m.tolist()}")


@pytest.mark.parametrize("dtype, c", ALL_LAYOUTS)
@pytest.mark.parametrize("border", ["replicate", "constant"])
def test_block_seams_and_row_leftovers(dtype, c, border):
    rng = np.random.default_rng(c + (dtype == np.float32) * 10)
    src = _image(rng, 45, 61, dtype, c)
    for dw in (1, 7, 8, 9, 15, 16, 17, 23, 31, 33, 47, 48, 49):
        # Mostly inside, sliding over the right and bottom edges so that blocks end with
        # their top-left tap exactly at w - 2, w - 1 and beyond.
        for tx, ty in ((0.0, 0.0), (-3.0, -1.0), (-(61 - dw) - 0.5, -30.25), (-(61 - dw) - 1.0, -43.0), (5.5, 2.0)):
            m = np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])
            _check_all_modes(src, m, (dw, 6), border)
            m = np.array([[0.93, 0.05, tx], [-0.04, 1.07, ty]])
            _check_all_modes(src, m, (dw, 6), border)


@pytest.mark.parametrize("dtype, c", ALL_LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (1, 3), (1, 5), (1, 40), (2, 1), (40, 1), (2, 2), (3, 4)])
def test_tiny_sources(dtype, c, shape):
    rng = np.random.default_rng(sum(shape) * 7 + c)
    src = _image(rng, shape[0], shape[1], dtype, c)
    for border in ("replicate", "constant"):
        for m in (np.array([[1.0, 0, 0], [0, 1.0, 0]]), np.array([[0.31, 0.2, 0.4], [-0.1, 0.27, 0.3]]),
                  np.array([[7.0, 0.5, -3], [0.2, 6.0, -2]])):
            _check_all_modes(src, m, (21, 5), border)


@pytest.mark.parametrize("dtype, c", ALL_LAYOUTS)
def test_rows_outside_huge_scales_and_offsets(dtype, c):
    rng = np.random.default_rng(99 + c)
    src = _image(rng, 33, 50, dtype, c)
    cases = [
        np.array([[1.0, 0, 0], [0, 1.0, 20.0]]),        # lower rows map below the image
        np.array([[1.0, 0, -70.0], [0, 1.0, 0]]),       # whole rows left of it
        np.array([[1e-4, 0, 0], [0, 1e-4, 0]]),         # inverse scale 1e4: far outside quickly
        np.array([[2e-6, 1e-6, 3.0], [-1e-6, 2e-6, 1.0]]),
        np.array([[1.0, 0, 1e9], [0, 1.0, -1e9]]),      # coordinates past int range
        np.array([[1.0, 0, 2.0e7], [0, 1.0, 0.5]]),
        np.array([[40.0, 3.0, -5.0], [1.0, 35.0, -9.0]]),  # huge magnification
    ]
    for border in ("replicate", "constant"):
        for m in cases:
            _check_all_modes(src, m, (37, 29), border, bval=201.0)


def test_wide_and_padded_rows():
    """A source wider than 32767 px (OpenCV4 clamps ix to int16) and a strided out= buffer."""
    rng = np.random.default_rng(5)
    src = rng.integers(0, 256, (3, 33000, 1), dtype=np.uint8)
    for tx in (0.0, -32700.0, -32760.5, -32990.0):
        _check_all_modes(src, np.array([[1.0, 0, tx], [0, 1.0, -0.5]]), (40, 3))
    big = np.full((30, 20, 3), 7, np.uint8)
    out = big[:10]
    src3 = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    m = np.array([[0.9, 0.1, -2.0], [-0.1, 0.9, 1.0]])
    ffaccel.warp_affine(src3, m, (20, 10), out=out)
    np.testing.assert_array_equal(out, warp_default(src3, m, (20, 10)))
    assert (big[10:] == 7).all()


def _guarded_buffer(nbytes, at_end):
    """A numpy byte buffer of `nbytes` whose first (at_end=False) or last byte touches an
    unreadable page, so that any read outside it faults."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    inner = -(-nbytes // page)
    mm = mmap.mmap(-1, (inner + 2) * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for p in (0, inner + 1):
        assert libc.mprotect(base + p * page, page, 0) == 0
    start = page + (inner * page - nbytes if at_end else 0)
    return mm, np.frombuffer(mm, np.uint8, count=nbytes, offset=start)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork") or __import__("sys").platform != "linux", reason="needs mprotect")
@pytest.mark.parametrize("dtype, c", ALL_LAYOUTS)
def test_no_read_outside_the_source(dtype, c):
    rng = np.random.default_rng(c)
    item = np.dtype(dtype).itemsize
    keep = []
    for h, w in ((1, 1), (1, 2), (2, 3), (5, 9), (17, 23)):
        for at_end in (False, True):
            mm, raw = _guarded_buffer(h * w * c * item, at_end)
            keep.append(mm)
            src = raw.view(dtype).reshape(h, w, c)
            src[...] = _image(rng, h, w, dtype, c)
            for m in (np.array([[1.0, 0, 0], [0, 1.0, 0]]), np.array([[1.0, 0, -0.5], [0, 1.0, -0.5]]),
                      np.array([[0.6, 0.3, 2.0], [-0.2, 0.7, 1.0]]), np.array([[3.0, 0, -2.0], [0, 3.0, -2.0]])):
                for border in ("replicate", "constant"):
                    _check_all_modes(src, m, (w * 3 + 9, h + 2), border)


def test_baseline_build_gives_the_same_bytes():
    """The baseline (SSE2) and x86-64-v3 (AVX2) builds of the CPU loop agree byte for byte."""
    script = r'''
import hashlib, sys
import numpy as np
import ffaccel
rng = np.random.default_rng(2024)
h = hashlib.sha256()
for trial in range(60):
    c = [1, 3, 4][trial % 3]
    dtype = np.float32 if (trial % 5 == 0 and c != 4) else np.uint8
    sh, sw = int(rng.integers(1, 120)), int(rng.integers(1, 120))
    src = rng.integers(0, 256, (sh, sw, c)).astype(dtype)
    ang, s = rng.uniform(-3.1, 3.1), np.exp(rng.uniform(-2, 2))
    m = np.array([[s * np.cos(ang), -s * np.sin(ang), rng.uniform(-60, 60)],
                  [s * np.sin(ang), s * np.cos(ang), rng.uniform(-60, 60)]])
    for compat in (None, "opencv5.0", "opencv4"):
        for border in ("replicate", "constant"):
            out = ffaccel.warp_affine(src, m, (int(rng.integers(1, 90)), int(rng.integers(1, 40))),
                                      border=border, border_value=float(rng.uniform(0, 255)), compat=compat)
            h.update(out.tobytes())
print(h.hexdigest())
'''
    digests = digests_of_both_builds(script, timeout=300)
    assert digests[0] == digests[1]
