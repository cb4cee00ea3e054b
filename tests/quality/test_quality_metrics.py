"""ffaccel.quality.metrics against hand-computed values and independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel.quality import bgr_to_lab, laplacian_variance, mean_lab, mse, psnr, psnr_from_mse

SEEDS = st.integers(0, 2**32 - 1)


def _random_frame(seed: int, shape=(24, 32, 3), low=0, high=256) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, shape, dtype=np.uint8)


# --- PSNR -----------------------------------------------------------------------------


def test_identical_frames_give_infinite_psnr():
    frame = _random_frame(0)
    assert psnr(frame, frame.copy()) == math.inf
    assert mse(frame, frame) == 0.0


@given(seed=SEEDS, level=st.integers(1, 60))
@settings(max_examples=40, deadline=None)
def test_plus_minus_noise_of_known_level_gives_known_psnr(seed, level):
    # Every pixel moves by exactly +-level, so MSE = level**2 with no rounding at all.
    rng = np.random.default_rng(seed)
    base = rng.integers(level, 256 - level, (16, 20, 3)).astype(np.int16)
    signs = rng.choice(np.array([-1, 1], np.int16), base.shape)
    noisy = (base + signs * level).astype(np.uint8)
    assert mse(base.astype(np.uint8), noisy) == level**2
    assert psnr(base.astype(np.uint8), noisy) == pytest.approx(20 * math.log10(255 / level), abs=1e-9)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_gaussian_noise_of_sigma_gives_psnr_near_20log10_255_over_sigma(sigma):
    rng = np.random.default_rng(7)
    base = np.full((256, 256, 3), 128, np.uint8)
    noise = rng.normal(0.0, sigma, base.shape)
    noisy = np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)
    # Rounding to integers adds 1/12 to the noise variance.
    expected = 10 * math.log10(255**2 / (sigma**2 + 1 / 12))
    assert psnr(base, noisy) == pytest.approx(expected, abs=0.05)


def test_one_pixel_shift_of_a_ramp_gives_known_psnr():
    # Columns step by 4 code values, so a 1-pixel shift differs by 4 everywhere:
    # MSE = 16, PSNR = 20*log10(255/4) = 36.0896 dB.
    ramp = np.tile((np.arange(64) * 4).astype(np.uint8)[None, :, None], (8, 1, 3))
    shifted = ramp[:, 1:]
    assert psnr(ramp[:, :-1], shifted) == pytest.approx(36.08960, abs=1e-4)


def test_one_pixel_shift_of_alternating_stripes_gives_zero_db():
    stripes = np.zeros((8, 16, 3), np.uint8)
    stripes[:, ::2] = 255
    assert psnr(stripes, np.roll(stripes, 1, axis=1)) == 0.0


@given(seed_a=SEEDS, seed_b=SEEDS)
@settings(max_examples=30, deadline=None)
def test_psnr_is_symmetric(seed_a, seed_b):
    a, b = _random_frame(seed_a), _random_frame(seed_b)
    assert psnr(a, b) == psnr(b, a)


@given(seed_a=SEEDS, seed_b=SEEDS, offset=st.integers(-40, 40), dy=st.integers(0, 23), dx=st.integers(0, 31))
@settings(max_examples=30, deadline=None)
def test_psnr_is_invariant_to_shared_intensity_offset_and_spatial_roll(seed_a, seed_b, offset, dy, dx):
    a = _random_frame(seed_a, low=40, high=216)
    b = _random_frame(seed_b, low=40, high=216)
    moved_a = np.roll((a.astype(np.int16) + offset).astype(np.uint8), (dy, dx), axis=(0, 1))
    moved_b = np.roll((b.astype(np.int16) + offset).astype(np.uint8), (dy, dx), axis=(0, 1))
    assert psnr(moved_a, moved_b) == pytest.approx(psnr(a, b), abs=1e-9)


def test_mse_matches_float64_reference_on_full_range():
    a, b = _random_frame(1, (100, 90, 3)), _random_frame(2, (100, 90, 3))
    expected = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    assert mse(a, b) == pytest.approx(expected, rel=1e-12)


def test_psnr_from_mse_values():
    assert psnr_from_mse(65025.0) == 0.0
    assert psnr_from_mse(0.0) == math.inf
    assert psnr_from_mse(1.0, peak=1.0) == 0.0


@pytest.mark.parametrize(
    "call, error, word",
    [
        (lambda: mse(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.uint8)), TypeError, "a"),
        (lambda: mse(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)), ValueError, "b: expected shape"),
        (lambda: mse([[1]], np.zeros((1, 1), np.uint8)), TypeError, "a: expected"),
        (lambda: mse(np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.uint8)), ValueError, "empty"),
        (lambda: psnr_from_mse(-1.0), ValueError, "mse_value"),
        (lambda: psnr_from_mse(float("nan")), ValueError, "mse_value"),
        (lambda: psnr_from_mse(1.0, peak=0), ValueError, "peak"),
    ],
)
def test_psnr_bad_input_names_the_argument(call, error, word):
    with pytest.raises(error, match=word):
        call()


# --- Lab -------------------------------------------------------------------------------

# Published sRGB (D65) -> CIE Lab values, given here in BGR order.
KNOWN_LAB = [
    ((0, 0, 255), (53.2408, 80.0925, 67.2032)),  # red
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),  # green
    ((255, 0, 0), (32.2970, 79.1875, -107.8602)),  # blue
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((128, 128, 128), (53.5850, 0.0, 0.0)),
    ((0, 255, 255), (97.1393, -21.5537, 94.4780)),  # yellow
]


@pytest.mark.parametrize("bgr, lab", KNOWN_LAB)
def test_bgr_to_lab_matches_published_values(bgr, lab):
    pixel = np.array([[bgr]], np.uint8)
    np.testing.assert_allclose(bgr_to_lab(pixel)[0, 0], lab, atol=2e-3)
    # The float path (0..1) must agree with the table path.
    np.testing.assert_allclose(bgr_to_lab(pixel.astype(np.float64) / 255)[0, 0], lab, atol=2e-3)


def test_bgr_to_lab_dark_values_use_the_linear_segment():
    # Code value 1: linear 1/255/12.92, Y = that, L = 903.2963 * Y (CIE kappa).
    y = 1 / 255 / 12.92
    lab = bgr_to_lab(np.full((1, 1, 3), 1, np.uint8))[0, 0]
    assert lab[0] == pytest.approx(24389 / 27 * y, abs=1e-4)


def test_bgr_to_lab_agrees_with_cv2_float_path():
    cv2 = pytest.importorskip("cv2")
    frame = _random_frame(3, (40, 40, 3))
    ours = bgr_to_lab(frame)
    theirs = cv2.cvtColor(frame.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    # cv2 interpolates the gamma curve from a table and rounds a/b, so it differs by a
    # few tenths at most; our uint8 path is exact against the published values above.
    assert np.abs(ours - theirs).max() < 0.5
    assert np.abs(ours - theirs).mean() < 0.15


def test_mean_lab_is_the_mean_of_the_per_pixel_lab():
    frame = _random_frame(4, (30, 20, 4))
    expected = bgr_to_lab(frame).reshape(-1, 3).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(mean_lab(frame), expected, atol=1e-4)


@pytest.mark.parametrize(
    "image, error, word",
    [
        (np.zeros((4, 4), np.uint8), ValueError, "image: expected shape"),
        (np.zeros((4, 4, 3), np.int32), TypeError, "image: expected dtype uint8"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
        ("frame", TypeError, "image: expected"),
    ],
)
def test_lab_bad_input_names_the_argument(image, error, word):
    with pytest.raises(error, match=word):
        bgr_to_lab(image)
    with pytest.raises(error, match=word):
        mean_lab(image)


# --- Laplacian variance ----------------------------------------------------------------


def test_laplacian_variance_of_a_single_bright_pixel_by_hand():
    # Gray 5x5, one pixel of 10 at the centre. Interior 3x3 Laplacian: -40 at the
    # centre, +10 at its 4 neighbours, 0 at the 4 corners. Mean 0, variance
    # (1600 + 4*100) / 9.
    gray = np.zeros((5, 5), np.float32)
    gray[2, 2] = 10
    assert laplacian_variance(gray) == pytest.approx(2000 / 9, rel=1e-9)


def test_laplacian_variance_of_flat_and_linear_images_is_zero():
    assert laplacian_variance(np.full((9, 9, 3), 77, np.uint8)) == 0.0
    ramp = np.tile((np.arange(20) * 3).astype(np.uint8), (10, 1))
    assert laplacian_variance(ramp) == 0.0


def test_laplacian_variance_matches_cv2_laplacian_on_the_interior():
    cv2 = pytest.importorskip("cv2")
    frame = _random_frame(5, (40, 50, 3))
    wb, wg, wr = 0.114, 0.587, 0.299
    gray = frame[..., 0] * np.float32(wb) + frame[..., 1] * np.float32(wg) + frame[..., 2] * np.float32(wr)
    lap = cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    assert laplacian_variance(frame) == pytest.approx(float(lap.astype(np.float64).var()), rel=1e-5)


def test_blur_lowers_laplacian_variance():
    frame = _random_frame(6, (40, 40, 3))
    blurred = ((frame[:-1, :-1].astype(np.uint16) + frame[1:, 1:]) // 2).astype(np.uint8)
    assert laplacian_variance(blurred) < laplacian_variance(frame[:-1, :-1])


@pytest.mark.parametrize(
    "image, error, word",
    [
        (np.zeros((2, 8, 3), np.uint8), ValueError, "3x3"),
        (np.zeros((8, 8, 2), np.uint8), ValueError, "image: expected shape"),
        (np.zeros((8,), np.uint8), ValueError, "image: expected shape"),
        (np.zeros((8, 8, 3), np.float32), TypeError, "image: expected dtype uint8"),
        (np.zeros((8, 8), bool), TypeError, "image: expected a numeric"),
    ],
)
def test_laplacian_bad_input_names_the_argument(image, error, word):
    with pytest.raises(error, match=word):
        laplacian_variance(image)


# --- GPU against numpy -------------------------------------------------------------------


@pytest.mark.cuda
def test_gpu_metrics_match_numpy():
    cupy = pytest.importorskip("cupy")
    a, b = _random_frame(10, (70, 90, 3)), _random_frame(11, (70, 90, 3))
    # A strided crop, as the monitor passes them.
    a_crop, b_crop = a[5:60, 7:80], b[5:60, 7:80]
    ga, gb = cupy.asarray(a), cupy.asarray(b)
    assert mse(ga[5:60, 7:80], gb[5:60, 7:80]) == mse(a_crop, b_crop)  # exact integer SSE
    assert psnr(ga, gb) == psnr(a, b)
    assert psnr(ga, ga) == math.inf
    lab_gpu = bgr_to_lab(ga)
    assert isinstance(lab_gpu, cupy.ndarray) and lab_gpu.dtype == np.float32
    np.testing.assert_allclose(cupy.asnumpy(lab_gpu), bgr_to_lab(a), atol=2e-3)
    np.testing.assert_allclose(mean_lab(ga[5:60, 7:80]), mean_lab(a_crop), atol=1e-4)
    np.testing.assert_allclose(
        cupy.asnumpy(bgr_to_lab(ga.astype(cupy.float32) / 255)), bgr_to_lab(a.astype(np.float32) / 255), atol=2e-3
    )
    assert laplacian_variance(ga[5:60, 7:80]) == pytest.approx(laplacian_variance(a_crop), rel=1e-5)
    with pytest.raises(ValueError, match="both be on the host or both on the GPU"):
        mse(ga, b)


@pytest.mark.cuda
def test_torch_cuda_tensors_are_read_zero_copy():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cupy")
    a, b = _random_frame(12), _random_frame(13)
    ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
    assert psnr(ta, tb) == psnr(a, b)
    assert laplacian_variance(ta) == pytest.approx(laplacian_variance(a), rel=1e-5)
    np.testing.assert_allclose(mean_lab(ta), mean_lab(a), atol=1e-4)


def test_torch_cpu_tensors_use_the_numpy_path():
    torch = pytest.importorskip("torch")
    a, b = _random_frame(14), _random_frame(15)
    assert psnr(torch.from_numpy(a), torch.from_numpy(b)) == psnr(a, b)


@given(value=st.integers(0, 254))
@settings(max_examples=60, deadline=None)
def test_grey_pixels_have_no_chroma_and_lightness_rises_with_value(value):
    greys = np.array([[[value] * 3, [value + 1] * 3]], np.uint8)
    lab = bgr_to_lab(greys)[0]
    assert np.abs(lab[:, 1:]).max() < 1e-4
    assert 0.0 <= lab[0, 0] < lab[1, 0] <= 100.0 + 1e-4


@given(seed=SEEDS)
@settings(max_examples=25, deadline=None)
def test_uint8_table_path_equals_float_formula_path(seed):
    frame = _random_frame(seed, (6, 7, 3))
    np.testing.assert_allclose(bgr_to_lab(frame), bgr_to_lab(frame / 255.0), atol=2e-4)
