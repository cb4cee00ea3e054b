"""composite on the CPU path: the documented formula, its properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from composite_reference import composite_f32, composite_f64, effective_alpha_f64
from strategies import examples

SETTINGS = settings(max_examples=examples(80), deadline=None)


@st.composite
def composite_inputs(draw, max_side: int = 48):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.sampled_from([3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fg = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    if draw(st.booleans()):
        alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    else:  # a little outside 0..1 too, to exercise the clip
        alpha = rng.uniform(-0.1, 1.1, (h, w)).astype(np.float32)
    return fg, bg, alpha


bands = st.one_of(st.none(), st.tuples(st.integers(0, 254), st.integers(1, 255)).filter(lambda b: b[0] < b[1]))
feathers = st.floats(0.0, 1.0)


@SETTINGS
@given(inputs=composite_inputs(), band=bands, feather=feathers)
def test_matches_float32_reference_bytes(inputs, band, feather):
    fg, bg, alpha = inputs
    got = ffaccel.composite(fg, bg, alpha, band=band, band_feather=feather)
    assert got.dtype == np.uint8 and got.shape == fg.shape
    np.testing.assert_array_equal(got, composite_f32(fg, bg, alpha, band, feather))


@SETTINGS
@given(inputs=composite_inputs(), band=bands, feather=feathers)
def test_within_one_level_of_float64_mathematics(inputs, band, feather):
    fg, bg, alpha = inputs
    got = ffaccel.composite(fg, bg, alpha, band=band, band_feather=feather).astype(int)
    want = composite_f64(fg, bg, alpha, band, feather).astype(int)
    assert np.abs(got - want).max() <= 1


def test_float64_reference_agrees_on_most_pixels():
    # Guards the references: float32 rounding may flip a .5 tie, but not many pixels.
    rng = np.random.default_rng(5)
    fg, bg = (rng.integers(0, 256, (200, 200, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    got = ffaccel.composite(fg, bg, alpha)
    assert np.mean(got == composite_f64(fg, bg, alpha)) > 0.99


def test_band_none_and_zero_feather_are_a_plain_blend():
    rng = np.random.default_rng(1)
    fg, bg = (rng.integers(0, 256, (64, 80, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (64, 80), dtype=np.uint8)
    m = alpha.astype(np.float32) / np.float32(255)
    plain = np.rint(bg + m[..., None] * (fg.astype(np.float32) - bg)).astype(np.uint8)
    np.testing.assert_array_equal(ffaccel.composite(fg, bg, alpha, band=None), plain)
    np.testing.assert_array_equal(ffaccel.composite(fg, bg, alpha, band_feather=0.0), plain)
    # ... and the default band does change some in-band pixels (the test above can fail).
    assert np.count_nonzero(ffaccel.composite(fg, bg, alpha) != plain) > 100


@pytest.mark.parametrize("band", [(30, 225), (0, 255), (100, 101), None])
@pytest.mark.parametrize("feather", [0.0, 0.15, 1.0])
def test_alpha_extremes_give_bg_and_fg_exactly(band, feather):
    rng = np.random.default_rng(2)
    fg, bg = (rng.integers(0, 256, (16, 16, 4), dtype=np.uint8) for _ in range(2))
    for zero, one in ((np.uint8(0), np.uint8(255)), (np.float32(0), np.float32(1))):
        np.testing.assert_array_equal(ffaccel.composite(fg, bg, np.full((16, 16), zero), band=band,
                                                        band_feather=feather), bg)
        np.testing.assert_array_equal(ffaccel.composite(fg, bg, np.full((16, 16), one), band=band,
                                                        band_feather=feather), fg)


def _ramp_u8() -> np.ndarray:
    return np.arange(256, dtype=np.uint8)[None, :]


@settings(max_examples=examples(40), deadline=None)
@given(band=bands, feather=feathers, f=st.integers(0, 255), b=st.integers(0, 255))
def test_monotone_in_alpha(band, feather, f, b):
    sign = 1 if f >= b else -1
    fg, bg = np.full((1, 256, 3), f, np.uint8), np.full((1, 256, 3), b, np.uint8)
    out = ffaccel.composite(fg, bg, _ramp_u8(), band=band, band_feather=feather)[0, :, 0].astype(int)
    assert (np.diff(out) * sign >= 0).all()
    # A float alpha on a fine grid too (its neighbours are far apart in ulps).
    grid = np.linspace(0, 1, 4001, dtype=np.float32)[None, :]
    fgw, bgw = np.full((1, 4001, 3), f, np.uint8), np.full((1, 4001, 3), b, np.uint8)
    outf = ffaccel.composite(fgw, bgw, grid, band=band, band_feather=feather)[0, :, 0].astype(int)
    assert (np.diff(outf) * sign >= 0).all()
    # Bounded by the two inputs.
    assert out.min() >= min(f, b) and out.max() <= max(f, b)


def _effective_alpha(alpha, band, feather):
    """The kernel's effective alpha in 0..255, read back with fg = 255 and bg = 0."""
    n = alpha.shape[-1]
    fg, bg = np.full((1, n, 3), 255, np.uint8), np.zeros((1, n, 3), np.uint8)
    return ffaccel.composite(fg, bg, alpha, band=band, band_feather=feather)[0, :, 0].astype(int)


@pytest.mark.parametrize("feather", [0.15, 0.5, 1.0])
def test_identity_outside_band_and_at_its_edges(feather):
    band = (40, 200)
    a = np.arange(256)
    got = _effective_alpha(_ramp_u8(), band, feather)
    outside = (a <= band[0]) | (a >= band[1])
    np.testing.assert_array_equal(got[outside], a[outside])
    # Continuity at the edges: a float alpha just inside the band stays next to the edge.
    eps = np.array([[band[0] + 0.01, band[1] - 0.01]], np.float32) / np.float32(255)
    np.testing.assert_array_equal(_effective_alpha(eps, band, feather), [band[0], band[1]])


def test_pull_is_toward_the_nearer_edge_by_the_documented_amount():
    band, feather = (0, 255), 1.0
    a = np.arange(256)
    got = _effective_alpha(_ramp_u8(), band, feather)
    lower, upper = a < 127, a > 128
    assert (got[lower] <= a[lower]).all() and (got[upper] >= a[upper]).all()
    # Docstring: largest shift 0.0962 * feather * width alpha levels, at t = 0.5 -+ 0.289.
    shift = np.abs(got - a)
    assert abs(shift.max() - 0.0962 * 255) <= 1.0
    assert abs(int(np.argmax(shift[:128])) - round(255 * (0.5 - 0.2887))) <= 2
    np.testing.assert_allclose(got, np.rint(effective_alpha_f64(a, band, feather)), atol=1)


def test_default_band_shift_is_small():
    a = np.arange(256)
    shift = np.abs(_effective_alpha(_ramp_u8(), (30, 225), 0.15) - a)
    assert 2 <= shift.max() <= 3  # docstring: about 2.8 levels with the defaults


def test_float_alpha_is_clipped_and_nan_counts_as_zero():
    fg, bg = np.full((1, 4, 3), 200, np.uint8), np.full((1, 4, 3), 10, np.uint8)
    alpha = np.array([[-0.5, np.nan, 1.5, np.inf]], np.float32)
    out = ffaccel.composite(fg, bg, alpha)[0, :, 0]
    assert out.tolist() == [10, 10, 200, 200]


def test_float_and_uint8_alpha_agree_within_one_level():
    rng = np.random.default_rng(4)
    fg, bg = (rng.integers(0, 256, (50, 256, 3), dtype=np.uint8) for _ in range(2))
    a8 = np.tile(np.arange(256, dtype=np.uint8), (50, 1))
    af = a8.astype(np.float32) / np.float32(255)
    d = ffaccel.composite(fg, bg, a8).astype(int) - ffaccel.composite(fg, bg, af).astype(int)
    assert np.abs(d).max() <= 1


def test_all_four_channels_are_blended():
    fg = np.array([[[200, 100, 50, 255]]], np.uint8)
    bg = np.array([[[0, 0, 0, 0]]], np.uint8)
    out = ffaccel.composite(fg, bg, np.array([[0.5]], np.float32), band=None)
    assert out.tolist() == [[[100, 50, 25, 128]]]  # 127.5 rounds half to even: 128


def test_alpha_with_channel_axis_is_accepted():
    rng = np.random.default_rng(6)
    fg, bg = (rng.integers(0, 256, (9, 7, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (9, 7), dtype=np.uint8)
    np.testing.assert_array_equal(ffaccel.composite(fg, bg, alpha[..., None]), ffaccel.composite(fg, bg, alpha))


def test_out_is_used_and_in_place_on_bg_or_fg_matches():
    rng = np.random.default_rng(7)
    fg, bg = (rng.integers(0, 256, (33, 41, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.integers(0, 256, (33, 41), dtype=np.uint8)
    want = ffaccel.composite(fg, bg, alpha)
    out = np.empty_like(fg)
    assert ffaccel.composite(fg, bg, alpha, out=out) is out
    np.testing.assert_array_equal(out, want)
    for which in ("fg", "bg"):
        f, b = fg.copy(), bg.copy()
        target = f if which == "fg" else b
        assert ffaccel.composite(f, b, alpha, out=target) is target
        np.testing.assert_array_equal(target, want)


def test_inputs_untouched():
    rng = np.random.default_rng(8)
    fg, bg = (rng.integers(0, 256, (20, 20, 4), dtype=np.uint8) for _ in range(2))
    alpha = rng.random((20, 20)).astype(np.float32)
    copies = [x.copy() for x in (fg, bg, alpha)]
    ffaccel.composite(fg, bg, alpha)
    for x, c in zip((fg, bg, alpha), copies):
        np.testing.assert_array_equal(x, c)


def test_torch_cpu_tensors_round_trip():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    fg, bg = (rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(2))
    alpha = rng.random((12, 10)).astype(np.float32)
    got = ffaccel.composite(torch.from_numpy(fg), torch.from_numpy(bg), torch.from_numpy(alpha))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), ffaccel.composite(fg, bg, alpha))


# ---------------------------------------------------------------- bad input

FG = np.zeros((8, 8, 3), np.uint8)
BG = np.zeros((8, 8, 3), np.uint8)
ALPHA = np.zeros((8, 8), np.uint8)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(fg=np.zeros((8, 8, 3), np.float32)), TypeError, "fg: expected dtype|got float32"),
        (dict(fg=np.zeros((8, 8, 1), np.uint8)), ValueError, "fg: expected|channel|got 1"),
        (dict(fg=np.zeros((8, 8), np.uint8)), ValueError, "fg: expected|channel|got 1"),
        (dict(fg=np.zeros((8, 16, 3), np.uint8)[:, ::2]), ValueError, "fg: expected a C-contiguous"),
        (dict(fg=[[0]]), TypeError, "fg: expected a numpy array"),
        (dict(bg=np.zeros((8, 9, 3), np.uint8)), ValueError, "bg: expected shape (8, 8, 3)"),
        (dict(bg=np.zeros((8, 8, 4), np.uint8)), ValueError, "bg: expected shape (8, 8, 3)"),
        (dict(bg=np.zeros((8, 8, 3), np.int16)), TypeError, "bg: expected dtype|got int16"),
        (dict(alpha=np.zeros((8, 8), np.float64)), TypeError, "alpha: expected dtype|got float64"),
        (dict(alpha=np.zeros((8, 7), np.uint8)), ValueError, "alpha: expected shape (8, 8)"),
        (dict(alpha=np.zeros((8, 8, 3), np.uint8)), ValueError, "alpha: expected|channel|got 3"),
        (dict(band=(225, 30)), ValueError, "band: expected 0 <= band_lo < band_hi <= 255"),
        (dict(band=(30, 256)), ValueError, "band: expected 0 <= band_lo < band_hi <= 255"),
        (dict(band=(30.5, 200)), TypeError, "band: expected integers band_lo, band_hi"),
        (dict(band=30), TypeError, "band: expected None or (band_lo, band_hi)"),
        (dict(band_feather=1.5), ValueError, "band_feather: expected a number in [0, 1]"),
        (dict(band_feather=float("nan")), ValueError, "band_feather"),
        (dict(band_feather="0.1"), TypeError, "band_feather"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, words):
    args = dict(fg=FG, bg=BG, alpha=ALPHA)
    args.update(kwargs)
    with pytest.raises(exc) as info:
        ffaccel.composite(args.pop("fg"), args.pop("bg"), args.pop("alpha"), **args)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


@pytest.mark.parametrize(
    "out, exc, words",
    [
        (np.full((8, 9, 3), 7, np.uint8), ValueError, "out: expected shape (8, 8, 3)"),
        (np.full((8, 8, 3), 7, np.float32), TypeError, "out: expected dtype uint8"),
        (np.full((8, 16, 3), 7, np.uint8)[:, ::2], ValueError, "out: expected a C-contiguous"),
    ],
)
def test_bad_out_is_refused_and_left_alone(out, exc, words):
    sentinel = out.copy()
    with pytest.raises(exc) as info:
        ffaccel.composite(FG, BG, np.full((8, 8), 100, np.uint8), out=out)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)
    np.testing.assert_array_equal(out, sentinel)


def test_out_partly_overlapping_an_input_is_refused():
    buf = np.full((9, 8, 3), 5, np.uint8)
    fg, out = buf[:8], buf[1:]
    with pytest.raises(ValueError, match="out: expected memory apart from fg"):
        ffaccel.composite(fg, BG, np.full((8, 8), 100, np.uint8), out=out)
    assert (buf == 5).all()


def test_bad_band_leaves_out_and_inputs_untouched():
    out, bg = np.full((8, 8, 3), 7, np.uint8), np.full((8, 8, 3), 9, np.uint8)
    with pytest.raises(ValueError):
        ffaccel.composite(FG, bg, np.full((8, 8), 100, np.uint8), band=(5, 5), out=bg)
    assert (bg == 9).all() and (out == 7).all()
