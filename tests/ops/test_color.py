"""Linear-light colour ops on the CPU path: float64 references, exactness, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel.ops.color import FAST_ERROR_BOUND, srgb_tables
from strategies import examples

SETTINGS = settings(max_examples=examples(60), deadline=None)


# ---------------------------------------------------------------- references (float64, from the standard)


def linear64(s) -> np.ndarray:
    s = np.clip(np.nan_to_num(np.asarray(s, np.float64), nan=0.0), 0.0, 1.0)
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)


def srgb64(lin) -> np.ndarray:
    lin = np.clip(np.nan_to_num(np.asarray(lin, np.float64), nan=0.0), 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 steps between two arrays of non-negative float32."""
    return np.abs(a.astype(np.float32).view(np.int32).astype(np.int64) - b.astype(np.float32).view(np.int32))


def gain_reference(img: np.ndarray, gains, mask=None) -> np.ndarray:
    """apply_color_gain_linear's documented formula in numpy float32, quantised in float64."""
    lin = linear64(img / 255.0).astype(np.float32)
    g = np.asarray(gains, np.float64).astype(np.float32)
    if mask is None:
        out = lin * g
    else:
        a = mask.astype(np.float32) / np.float32(255) if mask.dtype == np.uint8 else \
            np.clip(np.nan_to_num(mask, nan=0.0), 0, 1).astype(np.float32)
        a = a.reshape(img.shape[0], img.shape[1], 1)
        out = lin * (np.float32(1) - a) + (lin * g) * a
    return np.rint(255.0 * srgb64(out)).astype(np.uint8)


def rgb_images(max_side: int = 48):
    return st.builds(
        lambda h, w, seed: np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8),
        st.integers(1, max_side), st.integers(1, max_side), st.integers(0, 2**32 - 1))


DENSE = np.linspace(0.0, 1.0, 1_000_001, dtype=np.float32)[None]


# ---------------------------------------------------------------- the curve


def test_uint8_table_is_the_nearest_float32():
    table, _ = srgb_tables()
    exact = linear64(np.arange(256) / 255.0)
    np.testing.assert_array_equal(table, exact.astype(np.float32))
    got = ffaccel.srgb_to_linear(np.arange(256, dtype=np.uint8).reshape(16, 16))
    np.testing.assert_array_equal(got.ravel(), table)


def test_exact_float_curves_equal_the_rounded_float64_curve():
    for fn, ref in ((ffaccel.srgb_to_linear, linear64), (ffaccel.linear_to_srgb, srgb64)):
        got = fn(DENSE)
        want = ref(DENSE).astype(np.float32)
        assert got.dtype == np.float32
        assert ulps(got, want).max() <= 1
        assert np.count_nonzero(got != want) <= 10  # double rounding may cost a rare ulp


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), c=st.sampled_from([1, 3, 4]), fast=st.booleans())
def test_random_floats_both_variants(seed, c, fast):
    x = np.random.default_rng(seed).random((7, 9, c)).astype(np.float32)
    for fn, ref in ((ffaccel.srgb_to_linear, linear64), (ffaccel.linear_to_srgb, srgb64)):
        got = fn(x, fast=fast)
        assert got.shape == x.shape
        if fast:
            assert np.abs(got - ref(x)).max() <= FAST_ERROR_BOUND
        else:
            assert ulps(got, ref(x)).max() <= 1


def test_fast_error_bound_holds_on_a_dense_grid_and_is_not_loose():
    worst = 0.0
    for fn, ref in ((ffaccel.srgb_to_linear, linear64), (ffaccel.linear_to_srgb, srgb64)):
        worst = max(worst, float(np.abs(fn(DENSE, fast=True) - ref(DENSE)).max()))
    assert worst <= FAST_ERROR_BOUND
    assert worst > FAST_ERROR_BOUND / 100  # the fast path is really an approximation of its own


def test_segment_boundaries_and_clamping():
    x = np.array([[-1.0, -0.0, 0.0, 0.04045, 0.0031308, 1.0, 1.5, np.inf, -np.inf, np.nan]], np.float32)
    for fast in (False, True):
        lin = ffaccel.srgb_to_linear(x, fast=fast)
        srgb = ffaccel.linear_to_srgb(x, fast=fast)
        np.testing.assert_allclose(lin, linear64(x), rtol=0, atol=FAST_ERROR_BOUND)
        np.testing.assert_allclose(srgb, srgb64(x), rtol=0, atol=FAST_ERROR_BOUND)
        assert lin[0, -1] == 0.0 and srgb[0, -1] == 0.0  # NaN -> 0


def test_uint8_output_is_exact_rounding_and_round_trips():
    codes = np.arange(256, dtype=np.uint8).reshape(1, 256)
    np.testing.assert_array_equal(ffaccel.linear_to_srgb(ffaccel.srgb_to_linear(codes), dtype=np.uint8), codes)
    x = np.random.default_rng(5).random((50, 60)).astype(np.float32) * 1.2 - 0.1
    want = np.rint(255 * srgb64(x)).astype(np.uint8)
    np.testing.assert_array_equal(ffaccel.linear_to_srgb(x, dtype=np.uint8), want)


def test_bounds_sit_between_codes():
    table, bound = srgb_tables()
    assert np.all(np.diff(bound[1:]) > 0)
    assert np.all(table[:-1] < bound[1:]) and np.all(bound[1:] <= table[1:])
    # bound[k] is the first float at or past the half-code preimage
    half = linear64((np.arange(1, 256) - 0.5) / 255)
    assert np.all(bound[1:].astype(np.float64) >= half)
    assert np.all(np.nextafter(bound[1:], np.float32(0)).astype(np.float64) < half)


def test_out_and_torch_cpu():
    x = np.random.default_rng(6).random((8, 8, 3)).astype(np.float32)
    out = np.empty_like(x)
    assert ffaccel.srgb_to_linear(x, out=out) is out
    np.testing.assert_array_equal(out, ffaccel.srgb_to_linear(x))
    torch = pytest.importorskip("torch")
    got = ffaccel.linear_to_srgb(torch.from_numpy(x))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), ffaccel.linear_to_srgb(x))


# ---------------------------------------------------------------- apply_color_gain_linear

gain_values = st.tuples(*[st.floats(0.0, 3.0)] * 3)


@SETTINGS
@given(img=rgb_images(), gains=gain_values)
def test_gain_matches_reference(img, gains):
    got = ffaccel.apply_color_gain_linear(img, gains)
    np.testing.assert_array_equal(got, gain_reference(img, gains))


@SETTINGS
@given(img=rgb_images(), gains=gain_values, seed=st.integers(0, 2**32 - 1), u8=st.booleans())
def test_gain_with_mask_matches_reference(img, gains, seed, u8):
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    mask = rng.integers(0, 256, (h, w), dtype=np.uint8) if u8 else (rng.random((h, w)) * 1.4 - 0.2).astype(np.float32)
    got = ffaccel.apply_color_gain_linear(img, gains, mask=mask)
    np.testing.assert_array_equal(got, gain_reference(img, gains, mask))


def test_gain_identities():
    img = np.random.default_rng(7).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_array_equal(ffaccel.apply_color_gain_linear(img, (1, 1, 1)), img)
    gains = (1.3, 0.7, 1.05)
    zero = np.zeros((40, 50), np.float32)
    np.testing.assert_array_equal(ffaccel.apply_color_gain_linear(img, gains, mask=zero), img)
    full = ffaccel.apply_color_gain_linear(img, gains)
    np.testing.assert_array_equal(ffaccel.apply_color_gain_linear(img, gains, mask=zero + 1), full)
    np.testing.assert_array_equal(ffaccel.apply_color_gain_linear(img, gains, mask=np.full((40, 50, 1), 255, np.uint8)),
                                  full)
    assert np.count_nonzero(full != img) > 1000


def test_gain_saturates_and_zero_gain_is_black():
    img = np.full((2, 2, 3), 200, np.uint8)
    out = ffaccel.apply_color_gain_linear(img, (10.0, 0.0, 1.0))
    assert (out[..., 0] == 255).all() and (out[..., 1] == 0).all() and (out[..., 2] == 200).all()


def test_gain_out_and_input_untouched():
    img = np.random.default_rng(8).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    before = img.copy()
    out = np.zeros_like(img)
    assert ffaccel.apply_color_gain_linear(img, np.array([1.1, 0.9, 1.0]), out=out) is out
    np.testing.assert_array_equal(img, before)
    np.testing.assert_array_equal(out, gain_reference(img, (1.1, 0.9, 1.0)))


# ---------------------------------------------------------------- estimate_color_gains


def test_estimate_matches_reference_and_corrects_the_means():
    rng = np.random.default_rng(9)
    ref = rng.integers(40, 220, (64, 64, 3), dtype=np.uint8)
    src = np.clip(ref.astype(np.int32) + np.array([-25, 10, 30]), 0, 255).astype(np.uint8)
    mask = rng.random((64, 64)).astype(np.float32)
    gains = ffaccel.estimate_color_gains(src, ref, mask)
    w = mask.astype(np.float64)[..., None]
    want = (linear64(ref / 255.0) * w).sum((0, 1)) / (linear64(src / 255.0) * w).sum((0, 1))
    assert gains.dtype == np.float64 and gains.shape == (3,)
    np.testing.assert_allclose(gains, want, rtol=1e-6)
    fixed = ffaccel.apply_color_gain_linear(src, gains)

    def mean(im):
        return (linear64(im / 255.0) * w).sum((0, 1)) / w.sum()

    assert np.abs(mean(fixed) - mean(ref)).max() < np.abs(mean(src) - mean(ref)).max() / 5


def test_estimate_uint8_mask_is_weight_over_255():
    rng = np.random.default_rng(10)
    src, ref = (rng.integers(0, 256, (20, 20, 3), dtype=np.uint8) for _ in range(2))
    m8 = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    np.testing.assert_allclose(ffaccel.estimate_color_gains(src, ref, m8),
                               ffaccel.estimate_color_gains(src, ref, m8.astype(np.float32) / 255), rtol=1e-6)


def test_estimate_guards():
    src = np.full((8, 8, 3), 90, np.uint8)
    ref = np.full((8, 8, 3), 150, np.uint8)
    np.testing.assert_array_equal(ffaccel.estimate_color_gains(src, ref, np.zeros((8, 8), np.float32)), np.ones(3))
    src[..., 1] = 0  # a black channel: no ratio, gain 1
    gains = ffaccel.estimate_color_gains(src, ref, np.ones((8, 8), np.uint8))
    assert gains[1] == 1.0 and gains[0] > 1.5 and gains[0] == gains[2]


# ---------------------------------------------------------------- bad input

IMG = np.zeros((6, 6, 3), np.uint8)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: ffaccel.srgb_to_linear(np.zeros((4, 4), np.float64)), TypeError, "img: expected dtype|got float64"),
        (lambda: ffaccel.srgb_to_linear(np.zeros((4, 4, 2), np.float32)), ValueError, "img: expected|channel|got 2"),
        (lambda: ffaccel.srgb_to_linear(np.zeros((4, 8), np.float32)[:, ::2]), ValueError, "img: expected a C-contiguous"),
        (lambda: ffaccel.srgb_to_linear(IMG, fast=1), TypeError, "fast: expected True or False"),
        (lambda: ffaccel.linear_to_srgb(IMG), TypeError, "img: expected dtype|got uint8"),
        (lambda: ffaccel.linear_to_srgb(np.zeros((2, 2), np.float32), dtype=np.int16), TypeError, "dtype: expected"),
        (lambda: ffaccel.linear_to_srgb(np.zeros((2, 2), np.float32), dtype="nope"), TypeError, "dtype: expected"),
        (lambda: ffaccel.linear_to_srgb(np.zeros((2, 2), np.float32), dtype=np.uint8, fast=True), ValueError, "fast:"),
        (lambda: ffaccel.apply_color_gain_linear(IMG.astype(np.float32), (1, 1, 1)), TypeError, "img: expected dtype|got float32"),
        (lambda: ffaccel.apply_color_gain_linear(np.zeros((6, 6, 4), np.uint8), (1, 1, 1)), ValueError,
         "img: expected|channel|got 4"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, 1)), ValueError, "gains: expected shape (3,)"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, -1, 1)), ValueError, "gains: expected values >= 0"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, 1e39, 1)), ValueError, "gains: expected finite float32 values"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, np.nan, 1)), ValueError, "gains: expected finite float32 values"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, "abc"), TypeError, "gains:"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, 1, 1), mask=np.ones((5, 6), np.float32)), ValueError,
         "mask: expected 6x6 pixels"),
        (lambda: ffaccel.apply_color_gain_linear(IMG, (1, 1, 1), mask=np.ones((6, 6), np.float64)), TypeError,
         "mask: expected dtype|got float64"),
        (lambda: ffaccel.estimate_color_gains(IMG, np.zeros((6, 7, 3), np.uint8), np.ones((6, 6), np.float32)),
         ValueError, "ref_crop: expected shape"),
        (lambda: ffaccel.estimate_color_gains(IMG, IMG, np.ones((6, 5), np.float32)), ValueError, "mask: expected 6x6"),
        (lambda: ffaccel.estimate_color_gains(IMG, IMG, None), TypeError, "mask: expected a numpy array"),
        (lambda: ffaccel.estimate_color_gains(IMG.astype(np.float32), IMG, np.ones((6, 6), np.float32)), TypeError,
         "src_crop: expected dtype|got float32"),
        (lambda: ffaccel.estimate_color_gains(IMG, IMG, np.ones((6, 6), np.float32), min_mean=0), ValueError,
         "min_mean:"),
    ],
)
def test_bad_input_names_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda out: ffaccel.apply_color_gain_linear(IMG, (1, 1, 1), out=out[:5]),
        lambda out: ffaccel.apply_color_gain_linear(IMG, (1, -2, 1), out=out),
        lambda out: ffaccel.apply_color_gain_linear(IMG, (1, 1, 1), mask=np.ones((2, 2), np.float32), out=out),
        lambda out: ffaccel.linear_to_srgb(np.zeros((6, 6, 3), np.float32), out=out),
        lambda out: ffaccel.apply_color_gain_linear(out, (1, 1, 1), out=out),
    ],
)
def test_refused_calls_leave_out_untouched(call):
    out = np.full((6, 6, 3), 7, np.uint8)
    with pytest.raises((TypeError, ValueError)):
        call(out)
    assert (out == 7).all()


def test_estimate_accepts_torch_cpu_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    src, ref = (rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(2))
    mask = rng.random((16, 16)).astype(np.float32)
    got = ffaccel.estimate_color_gains(torch.from_numpy(src), torch.from_numpy(ref), torch.from_numpy(mask))
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, ffaccel.estimate_color_gains(src, ref, mask), rtol=1e-9)

