"""feather_mask and box_mask on the CPU path: float64 references, OpenCV, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel.ops.feather_mask import MAX_SIGMA, _blur_like_opencv, gaussian_taps
from strategies import examples

SETTINGS = settings(max_examples=examples(60), deadline=None)


def _cv2():
    return pytest.importorskip("cv2")


# ---------------------------------------------------------------- references


def gaussian_weights64(sigma: float) -> np.ndarray:
    """Normalised Gaussian of OpenCV's float-image size, in float64 (written from the formula)."""
    n = int(np.rint(8 * sigma + 1)) | 1
    x = np.arange(n) - (n - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def blur_reference(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian in float64 with reflect-101 borders (np.pad 'reflect' is reflect-101)."""
    m = mask.astype(np.float64)
    k = gaussian_weights64(sigma)
    r = k.size // 2
    if k.size == 1:
        return m
    if m.shape[0] > 1:  # OpenCV skips the pass along an axis of length 1
        p = np.pad(m, ((r, r), (0, 0)), mode="reflect")
        m = sum(k[i] * p[i:i + m.shape[0]] for i in range(k.size))
    if m.shape[1] > 1:
        p = np.pad(m, ((0, 0), (r, r)), mode="reflect")
        m = sum(k[i] * p[:, i:i + m.shape[1]] for i in range(k.size))
    return m


def box_mask_reference(w: int, h: int, blur: float, padding) -> np.ndarray:
    """FaceFusion's create_box_mask steps on an (h, w) array, blurred in float64."""
    blur_amount = int(w * 0.5 * blur)
    blur_area = max(blur_amount // 2, 1)
    top, right, bottom, left = padding
    m = np.ones((h, w), np.float64)
    m[:max(blur_area, int(h * top / 100)), :] = 0
    m[max(0, h - max(blur_area, int(h * bottom / 100))):, :] = 0
    m[:, :max(blur_area, int(w * left / 100))] = 0
    m[:, max(0, w - max(blur_area, int(w * right / 100))):] = 0
    return blur_reference(m, blur_amount * 0.25) if blur_amount > 0 else m


def facefusion_box_mask_cv2(size: int, blur: float, padding) -> np.ndarray:
    """The issue's create_box_mask steps with OpenCV, on a square crop as FaceFusion uses."""
    cv2 = _cv2()
    blur_amount = int(size * 0.5 * blur)
    blur_area = max(blur_amount // 2, 1)
    m = np.ones((size, size), np.float32)
    m[:max(blur_area, int(size * padding[0] / 100)), :] = 0
    m[-max(blur_area, int(size * padding[2] / 100)):, :] = 0
    m[:, :max(blur_area, int(size * padding[3] / 100))] = 0
    m[:, -max(blur_area, int(size * padding[1] / 100)):] = 0
    return cv2.GaussianBlur(m, (0, 0), blur_amount * 0.25) if blur_amount > 0 else m


# ---------------------------------------------------------------- feather_mask


@st.composite
def masks(draw, dtypes=(np.float32, np.uint8), max_side: int = 60):
    dtype = draw(st.sampled_from(dtypes))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):  # a soft-edged blob, like a real face mask
        yy, xx = np.mgrid[:h, :w]
        m = ((yy - h / 2) ** 2 / max(h, 1) ** 2 + (xx - w / 2) ** 2 / max(w, 1) ** 2 < 0.1).astype(np.float64)
    else:
        m = rng.random((h, w))
    return (m * 255).round().astype(np.uint8) if dtype == np.uint8 else m.astype(np.float32)


sigmas = st.floats(0.05, 20.0)


@SETTINGS
@given(mask=masks(dtypes=(np.float32,)), sigma=sigmas)
def test_float_matches_float64_reference(mask, sigma):
    got = ffaccel.feather_mask(mask, sigma)
    assert got.dtype == np.float32 and got.shape == mask.shape
    np.testing.assert_allclose(got, blur_reference(mask, sigma), rtol=0, atol=1e-5)


@SETTINGS
@given(mask=masks(dtypes=(np.uint8,)), sigma=sigmas)
def test_uint8_is_the_float_path_rounded_half_to_even(mask, sigma):
    got = ffaccel.feather_mask(mask, sigma)
    want = np.clip(np.rint(ffaccel.feather_mask(mask.astype(np.float32), sigma)), 0, 255).astype(np.uint8)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (7, 3), (97, 130), (300, 301)])
def test_matches_cv2_gaussian_blur(shape):
    cv2 = _cv2()
    rng = np.random.default_rng(sum(shape))
    for sigma in (0.05, 0.3, 1.0, 2.7, 9.5, 31.0):
        mask = rng.random(shape).astype(np.float32)
        want = cv2.GaussianBlur(mask, (0, 0), sigma)  # BORDER_DEFAULT is BORDER_REFLECT_101
        np.testing.assert_allclose(ffaccel.feather_mask(mask, sigma), want, rtol=0, atol=1e-5)


def test_taps_equal_cv2_kernel():
    cv2 = _cv2()
    for sigma in np.exp(np.linspace(np.log(0.05), np.log(MAX_SIGMA), 60)):
        taps = gaussian_taps(float(sigma))
        np.testing.assert_array_equal(taps, cv2.getGaussianKernel(taps.size, float(sigma), cv2.CV_32F).ravel())


def test_taps_shape_and_sum():
    for sigma in (0.05, 0.5, 3.0, 64.0):
        taps = gaussian_taps(sigma)
        assert taps.size == (round(8 * sigma + 1) | 1)
        assert math.isclose(float(taps.astype(np.float64).sum()), 1.0, abs_tol=1e-6)
        np.testing.assert_array_equal(taps, taps[::-1])


def test_constant_mask_stays_constant_and_blur_spreads_a_step():
    flat = np.full((30, 40), 0.25, np.float32)
    np.testing.assert_allclose(ffaccel.feather_mask(flat, 5.0), 0.25, atol=1e-6)
    step = np.zeros((1, 41), np.float32)
    step[0, 20:] = 1
    row = ffaccel.feather_mask(step, 3.0)[0]
    assert np.all(np.diff(row) >= -1e-7) and 0.4 < row[20] < 0.6 and row[0] < 1e-4


def test_planar_and_single_channel_shapes_and_out():
    rng = np.random.default_rng(2)
    mask = rng.random((20, 30, 1)).astype(np.float32)
    out = np.empty_like(mask)
    res = ffaccel.feather_mask(mask, 2.0, out=out)
    assert res is out
    np.testing.assert_array_equal(out[..., 0], ffaccel.feather_mask(mask[..., 0].copy(), 2.0))


def test_input_untouched():
    mask = np.random.default_rng(3).random((25, 25)).astype(np.float32)
    before = mask.copy()
    ffaccel.feather_mask(mask, 4.0)
    np.testing.assert_array_equal(mask, before)


def test_torch_cpu_tensor():
    torch = pytest.importorskip("torch")
    mask = np.random.default_rng(4).random((16, 16)).astype(np.float32)
    got = ffaccel.feather_mask(torch.from_numpy(mask), 1.5)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), ffaccel.feather_mask(mask, 1.5))


GOOD_MASK = np.zeros((10, 10), np.float32)


@pytest.mark.parametrize(
    "mask, sigma, exc, words",
    [
        (np.zeros((10, 10), np.float64), 1.0, TypeError, "mask: expected dtype|got float64"),
        (np.zeros((10, 10, 3), np.float32), 1.0, ValueError, "mask: expected|channel|got 3"),
        (np.zeros((0, 10), np.float32), 1.0, ValueError, "mask: expected a non-empty image"),
        (np.zeros((10, 20), np.float32)[:, ::2], 1.0, ValueError, "mask: expected a C-contiguous"),
        ([[0.0]], 1.0, TypeError, "mask: expected a numpy array"),
        (GOOD_MASK, 0.0, ValueError, "sigma: expected"),
        (GOOD_MASK, -1.0, ValueError, "sigma: expected"),
        (GOOD_MASK, float("nan"), ValueError, "sigma: expected"),
        (GOOD_MASK, MAX_SIGMA * 1.01, ValueError, "sigma: expected a number in (0,"),
        (GOOD_MASK, "3", TypeError, "sigma: expected a real number"),
        (GOOD_MASK, True, TypeError, "sigma: expected a real number"),
    ],
)
def test_bad_input_names_the_argument(mask, sigma, exc, words):
    with pytest.raises(exc) as info:
        ffaccel.feather_mask(mask, sigma)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


@pytest.mark.parametrize(
    "out, exc, words",
    [
        (np.full((10, 11), 7, np.float32), ValueError, "out: expected shape (10, 10)"),
        (np.full((10, 10), 7, np.uint8), TypeError, "out: expected dtype float32"),
        (np.full((10, 20), 7, np.float32)[:, ::2], ValueError, "out: expected a C-contiguous"),
    ],
)
def test_bad_out_is_refused_and_left_alone(out, exc, words):
    before = out.copy()
    with pytest.raises(exc) as info:
        ffaccel.feather_mask(np.ones((10, 10), np.float32), 1.0, out=out)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)
    np.testing.assert_array_equal(out, before)


def test_bad_sigma_leaves_out_untouched_and_aliasing_is_refused():
    out = np.full((10, 10), 7, np.float32)
    with pytest.raises(ValueError):
        ffaccel.feather_mask(np.ones((10, 10), np.float32), -2.0, out=out)
    assert (out == 7).all()
    buf = np.ones((10, 10), np.float32)
    with pytest.raises(ValueError, match="out: expected memory apart from"):
        ffaccel.feather_mask(buf, 1.0, out=buf)


# ---------------------------------------------------------------- box_mask

PADDINGS = [(0, 0, 0, 0), (10, 20, 30, 40), (5, 0, 0, 5), (100, 0, 0, 0), (50, 50, 50, 50)]


@pytest.mark.parametrize("size", [64, 128, 256, 512])
@pytest.mark.parametrize("blur", [0.0, 0.01, 0.1, 0.3, 0.5, 1.0])
def test_box_mask_matches_facefusion_with_cv2(size, blur):
    _cv2()
    for padding in PADDINGS:
        want = facefusion_box_mask_cv2(size, blur, padding)
        np.testing.assert_allclose(ffaccel.box_mask(size, blur, padding), want, rtol=0, atol=1e-6)


@SETTINGS
@given(w=st.integers(1, 160), h=st.integers(1, 160), blur=st.floats(0.0, 1.0),
       padding=st.tuples(*[st.integers(0, 100) | st.floats(0.0, 100.0)] * 4))
def test_box_mask_matches_float64_reference(w, h, blur, padding):
    got = ffaccel.box_mask((w, h), blur, padding)
    assert got.shape == (h, w) and got.dtype == np.float32
    np.testing.assert_allclose(got, box_mask_reference(w, h, blur, padding), rtol=0, atol=2e-6)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (7, 3), (97, 130)])
def test_box_mask_blur_order_matches_cv2_on_any_mask(shape):
    cv2 = _cv2()
    rng = np.random.default_rng(sum(shape) + 1)
    for sigma in (0.3, 2.7, 31.0):
        mask = rng.random(shape).astype(np.float32)
        got = _blur_like_opencv(mask, gaussian_taps(sigma))
        np.testing.assert_allclose(got, cv2.GaussianBlur(mask, (0, 0), sigma), rtol=0, atol=1e-6)


def test_box_mask_bands_follow_height_and_width():
    # No blur (blur_amount 0, blur_area 1): top/bottom bands are percent of the height,
    # left/right of the width, padding given as (top, right, bottom, left).
    m = ffaccel.box_mask((200, 100), 0.0, (10, 20, 30, 5))
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    assert (rows[0], rows[-1]) == (10, 100 - 30 - 1)
    assert (cols[0], cols[-1]) == (10, 200 - 40 - 1)
    assert set(np.unique(m)) == {0.0, 1.0}


def test_box_mask_is_cached_and_read_only():
    a = ffaccel.box_mask(96, 0.3, (0, 0, 0, 0))
    assert ffaccel.box_mask((96, 96), 0.3, (0, 0, 0, 0)) is a
    assert ffaccel.box_mask(96, 0.3, 0) is a  # one number pads all four sides
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    assert ffaccel.box_mask(96, 0.31, (0, 0, 0, 0)) is not a


@pytest.mark.parametrize(
    "size, blur, padding, exc, words",
    [
        ((0, 10), 0.3, 0, ValueError, "size: expected width and height in 1..65535"),
        ("512", 0.3, 0, TypeError, "size: expected (width, height)"),
        ((10.5, 10), 0.3, 0, TypeError, "size: expected integer width and height"),
        (64, -0.1, 0, ValueError, "blur: expected"),
        (64, 1.5, 0, ValueError, "blur: expected"),
        (64, float("nan"), 0, ValueError, "blur: expected"),
        (64, "a", 0, TypeError, "blur: expected a real number"),
        (64, 0.3, (1, 2, 3), TypeError, "padding: expected (top, right, bottom, left)"),
        (64, 0.3, (1, 2, 3, 101), ValueError, "padding: expected a number in [0, 100]"),
        (64, 0.3, (1, 2, 3, "x"), TypeError, "padding: expected a real number"),
    ],
)
def test_box_mask_bad_input_names_the_argument(size, blur, padding, exc, words):
    with pytest.raises(exc) as info:
        ffaccel.box_mask(size, blur, padding)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


def test_read_only_inputs_are_accepted_and_read_only_out_refused():
    box = ffaccel.box_mask(64, 0.0, 10)  # read-only, as box_mask hands it out
    np.testing.assert_array_equal(ffaccel.feather_mask(box, 2.0), ffaccel.feather_mask(box.copy(), 2.0))
    with pytest.raises(ValueError, match="out: expected a writeable array"):
        ffaccel.feather_mask(box.copy(), 2.0, out=ffaccel.box_mask(64, 0.0, 20))

