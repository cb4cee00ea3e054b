"""mask_hysteresis, seam_ring and MaskHysteresis on the CPU path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from composite_reference import hysteresis_ref, ring_ref
from strategies import examples

SETTINGS = settings(max_examples=examples(80), deadline=None)


@st.composite
def mask_pairs(draw, max_side: int = 40):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        prev = rng.integers(0, 256, (h, w), dtype=np.uint8)
        step = rng.integers(-12, 13, (h, w))
        mask = np.clip(prev.astype(int) + step, 0, 255).astype(np.uint8)
        scale = 255.0
    else:
        prev = rng.random((h, w)).astype(np.float32)
        mask = np.clip(prev + rng.normal(0, 0.05, (h, w)), 0, 1).astype(np.float32)
        scale = 1.0
    t_in = draw(st.floats(0, 0.1)) * scale
    t_out = draw(st.floats(0, 0.1)) * scale
    return mask, prev, t_in, t_out


@st.composite
def rois(draw, h: int, w: int):
    x, y = draw(st.integers(0, w)), draw(st.integers(0, h))
    return (x, y, draw(st.integers(0, w - x)), draw(st.integers(0, h - y)))


@SETTINGS
@given(pair=mask_pairs(), data=st.data())
def test_matches_reference_full_and_roi(pair, data):
    mask, prev, t_in, t_out = pair
    full = ffaccel.mask_hysteresis(mask, prev, t_in=t_in, t_out=t_out)
    assert full.dtype == mask.dtype and full.shape == mask.shape
    np.testing.assert_array_equal(full, hysteresis_ref(mask, prev, t_in, t_out))
    roi = data.draw(rois(*mask.shape))
    boxed = ffaccel.mask_hysteresis(mask, prev, t_in=t_in, t_out=t_out, roi=roi)
    np.testing.assert_array_equal(boxed, hysteresis_ref(mask, prev, t_in, t_out, roi=roi))
    # The ROI variant equals the full one inside the box and is the new mask outside it.
    x, y, w, h = roi
    np.testing.assert_array_equal(boxed[y:y + h, x:x + w], full[y:y + h, x:x + w])
    outside = np.ones(mask.shape, bool)
    outside[y:y + h, x:x + w] = False
    np.testing.assert_array_equal(boxed[outside], mask[outside])
    # In place on the mask: the box gets the result, the bytes outside it stay as they were.
    work = mask.copy()
    ffaccel.mask_hysteresis(work, prev, t_in=t_in, t_out=t_out, roi=roi, out=work)
    np.testing.assert_array_equal(work, boxed)


@SETTINGS
@given(pair=mask_pairs())
def test_a_change_within_thresholds_never_passes_and_a_larger_one_always_does(pair):
    mask, prev, t_in, t_out = pair
    out = ffaccel.mask_hysteresis(mask, prev, t_in=t_in, t_out=t_out)
    d = mask.astype(np.float64) - prev.astype(np.float64)
    # Margins keep float32 rounding of d and the thresholds out of the comparison.
    eps = 1e-6 if mask.dtype == np.float32 else 0.0
    within = (d <= np.float32(t_in) - eps) & (-d <= np.float32(t_out) - eps)
    beyond = (d > np.float32(t_in) + eps) | (-d > np.float32(t_out) + eps)
    np.testing.assert_array_equal(out[within], prev[within])
    np.testing.assert_array_equal(out[beyond], mask[beyond])


def test_thresholds_are_strict_and_directional_uint8():
    prev = np.full((1, 6), 100, np.uint8)
    mask = np.array([[105, 106, 96, 95, 100, 0]], np.uint8)
    out = ffaccel.mask_hysteresis(mask, prev, t_in=5, t_out=4)
    assert out.tolist() == [[100, 106, 100, 95, 100, 0]]  # +5 held, +6 passes; -4 held, -5 passes


def test_nan_in_mask_keeps_prev():
    prev = np.array([[0.25, 0.75]], np.float32)
    mask = np.array([[np.nan, 0.0]], np.float32)
    assert ffaccel.mask_hysteresis(mask, prev, t_in=0.1, t_out=0.1).tolist() == [[0.25, 0.0]]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_in_place_on_mask_or_prev(dtype):
    rng = np.random.default_rng(1)
    scale = 255 if dtype == np.uint8 else 1
    prev = (rng.random((30, 40)) * scale).astype(dtype)
    mask = (rng.random((30, 40)) * scale).astype(dtype)
    roi = (5, 7, 20, 11)
    want = ffaccel.mask_hysteresis(mask, prev, t_in=0.3 * scale, t_out=0.2 * scale, roi=roi)
    for target in ("mask", "prev"):
        m, p = mask.copy(), prev.copy()
        buf = m if target == "mask" else p
        assert ffaccel.mask_hysteresis(m, p, t_in=0.3 * scale, t_out=0.2 * scale, roi=roi, out=buf) is buf
        np.testing.assert_array_equal(buf, want)


def test_out_separate_buffer_is_fully_written():
    rng = np.random.default_rng(2)
    prev, mask = rng.random((2, 16, 16)).astype(np.float32)
    out = np.full((16, 16), -1.0, np.float32)
    ffaccel.mask_hysteresis(mask, prev, t_in=0.2, t_out=0.2, roi=(3, 3, 4, 4), out=out)
    assert (out >= 0).all()
    np.testing.assert_array_equal(out, hysteresis_ref(mask, prev, 0.2, 0.2, roi=(3, 3, 4, 4)))


def test_empty_roi_gives_the_mask():
    rng = np.random.default_rng(3)
    prev, mask = rng.random((2, 8, 9)).astype(np.float32)
    for roi in ((0, 0, 0, 0), (9, 8, 0, 0), (2, 3, 5, 0)):
        np.testing.assert_array_equal(ffaccel.mask_hysteresis(mask, prev, t_in=1, t_out=1, roi=roi), mask)


# ---------------------------------------------------------------- seam_ring

@SETTINGS
@given(pair=mask_pairs(), lo=st.floats(-0.1, 0.9), width=st.floats(0.01, 1.0))
def test_seam_ring_matches_reference(pair, lo, width):
    mask = pair[0]
    scale = 255.0 if mask.dtype == np.uint8 else 1.0
    lo, hi = lo * scale, (lo + width) * scale
    ring, box = ffaccel.seam_ring(mask, lo, hi)
    want_ring, want_box = ring_ref(mask, lo, hi)
    assert ring.dtype == np.uint8 and ring.shape == mask.shape
    np.testing.assert_array_equal(ring, want_ring)
    assert box == want_box


def test_seam_ring_ends_are_excluded_and_empty_ring_has_no_box():
    mask = np.array([[0, 30, 31, 224, 225, 255]], np.uint8)
    ring, box = ffaccel.seam_ring(mask, 30, 225)
    assert ring.tolist() == [[0, 0, 1, 1, 0, 0]] and box == (2, 0, 2, 1)
    ring, box = ffaccel.seam_ring(np.zeros((4, 4), np.float32), 0.0, 1.0)
    assert box is None and not ring.any()


def _face_mask(h, w, cx, cy, r, soft):
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(xx - cx, yy - cy)
    return np.clip((r - dist) / soft + 0.5, 0, 1).astype(np.float32)


def test_seam_ring_of_a_soft_disc():
    mask = _face_mask(100, 120, 60.0, 50.0, 30.0, 6.0)
    ring, box = ffaccel.seam_ring(mask, 0.0, 1.0)
    # Soft where 27 < distance < 33: along the axes x in 28..92, y in 18..82.
    assert box == (28, 18, 65, 65)
    assert ring[50, 60] == 0 and ring[0, 0] == 0  # the solid inside and outside are not ring


# ---------------------------------------------------------------- MaskHysteresis

def _gated_sequence_ref(masks, t_in, t_out, ring):
    state, outs = None, []
    for m in masks:
        state = m.copy() if state is None else hysteresis_ref(m, state, t_in, t_out, ring=ring)
        outs.append(state)
    return outs


def _moving_face_masks(n, seed, dtype=np.float32, speed=0.3):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        base = _face_mask(96, 96, 48 + speed * i, 46.0, 28.0, 8.0)
        soft = (base > 0) & (base < 1)  # noise on the seam only: solid areas stay solid
        m = np.clip(np.where(soft, base + rng.normal(0, 0.02, base.shape), base), 0, 1).astype(np.float32)
        out.append(m if dtype == np.float32 else np.rint(m * 255).astype(np.uint8))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_tracker_equals_whole_mask_gated_rule(dtype):
    masks = _moving_face_masks(12, 4, dtype)
    scale = 1.0 if dtype == np.float32 else 255.0
    t, ring = 0.05 * scale, (0.02 * scale, 0.98 * scale)
    # The ring's box is well inside the mask, so the CPU path's ROI is a real sub-box.
    box = ffaccel.seam_ring(masks[3], *ring)[1]
    assert box[2] * box[3] < 0.6 * masks[3].size
    track = ffaccel.MaskHysteresis(t_in=t, t_out=t, ring=ring)
    got = [track.update(m).copy() for m in masks]
    for g, w in zip(got, _gated_sequence_ref(masks, t, t, ring)):
        np.testing.assert_array_equal(g, w)


def test_tracker_first_call_reset_and_flicker_reduction():
    masks = _moving_face_masks(20, 5, speed=0.0)  # a still face: all change is mask noise
    track = ffaccel.MaskHysteresis(t_in=0.06, t_out=0.06, ring=(0.0, 1.0))
    first = track.update(masks[0])
    assert first is not masks[0]
    np.testing.assert_array_equal(first, masks[0])
    outs = [first] + [track.update(m).copy() for m in masks[1:]]
    flicker_in = np.mean([np.abs(b - a).mean() for a, b in zip(masks, masks[1:])])
    flicker_out = np.mean([np.abs(b - a).mean() for a, b in zip(outs, outs[1:])])
    assert flicker_out < 0.3 * flicker_in
    track.reset()
    assert track.state is None
    np.testing.assert_array_equal(track.update(masks[7]), masks[7])


def test_tracker_default_ring_is_every_soft_value_of_the_dtype():
    masks = _moving_face_masks(6, 9, np.uint8)
    track, explicit = ffaccel.MaskHysteresis(t_in=6, t_out=6), ffaccel.MaskHysteresis(t_in=6, t_out=6, ring=(0, 255))
    for m in masks:
        np.testing.assert_array_equal(track.update(m), explicit.update(m))
    # ... and that ring does hold pixels (a (0, 1) ring would hold none of a uint8 mask).
    assert np.count_nonzero(track.state != masks[-1]) > 50


def test_tracker_refuses_a_changed_shape_until_reset():
    track = ffaccel.MaskHysteresis(t_in=0.1, t_out=0.1)
    track.update(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="mask: expected float32 .* call reset"):
        track.update(np.zeros((8, 9), np.float32))
    with pytest.raises(ValueError, match="mask: expected float32"):
        track.update(np.zeros((8, 8), np.uint8))
    track.reset()
    assert track.update(np.zeros((8, 9), np.float32)).shape == (8, 9)


# ---------------------------------------------------------------- bad input

M = np.zeros((8, 8), np.float32)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(mask=np.zeros((8, 8), np.float64)), TypeError, "mask: expected dtype|got float64"),
        (dict(mask=np.zeros((8, 8, 1), np.float32)), ValueError, "mask: expected shape (H, W)"),
        (dict(mask=np.zeros((8, 16), np.float32)[:, ::2]), ValueError, "mask: expected a C-contiguous"),
        (dict(prev=np.zeros((8, 9), np.float32)), ValueError, "prev: expected float32 of shape (8, 8)"),
        (dict(prev=np.zeros((8, 8), np.uint8)), ValueError, "prev: expected float32"),
        (dict(prev=None), TypeError, "prev: expected a numpy array"),
        (dict(t_in=-0.1), ValueError, "t_in: expected a number >= 0"),
        (dict(t_out=float("inf")), ValueError, "t_out: expected a finite number"),
        (dict(t_in="0.1"), TypeError, "t_in: expected a real number"),
        (dict(roi=(0, 0, 9, 8)), ValueError, "roi: expected a box inside"),
        (dict(roi=(-1, 0, 2, 2)), ValueError, "roi: expected a box inside"),
        (dict(roi=(0, 0, 2)), TypeError, "roi: expected None or (x, y, w, h)"),
        (dict(roi=(0, 0, 2.0, 2)), TypeError, "roi: expected integers x, y, w, h"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, words):
    args = dict(mask=M, prev=M, t_in=0.1, t_out=0.1)
    args.update(kwargs)
    with pytest.raises(exc) as info:
        ffaccel.mask_hysteresis(args.pop("mask"), args.pop("prev"), **args)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


def test_bad_out_and_partial_overlap_leave_buffers_untouched():
    prev = np.full((8, 8), 0.5, np.float32)
    for out, exc, words in ((np.full((8, 8), 7, np.uint8), TypeError, "out: expected dtype float32"),
                            (np.full((4, 8), 7, np.float32), ValueError, "out: expected shape (8, 8)")):
        sentinel = out.copy()
        with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
            ffaccel.mask_hysteresis(M, prev, t_in=0, t_out=0, out=out)
        np.testing.assert_array_equal(out, sentinel)
    buf = np.full((9, 8), 3.0, np.float32)
    with pytest.raises(ValueError, match="out: expected memory apart from mask"):
        ffaccel.mask_hysteresis(buf[:8], prev, t_in=0, t_out=0, out=buf[1:])
    with pytest.raises(ValueError, match="t_out: expected a number >= 0"):
        ffaccel.mask_hysteresis(M, prev, t_in=0, t_out=-1, out=prev)
    assert (buf == 3.0).all() and (prev == 0.5).all()


@pytest.mark.parametrize(
    "args, exc, words",
    [
        ((np.zeros((4, 4), np.int32), 0.1, 0.9), TypeError, "mask: expected dtype|got int32"),
        ((M, 0.5, 0.5), ValueError, "hi: expected a value above lo"),
        ((M, float("nan"), 0.5), ValueError, "lo: expected a finite number"),
        ((M, 0.1, None), TypeError, "hi: expected a real number"),
    ],
)
def test_seam_ring_bad_input(args, exc, words):
    with pytest.raises(exc) as info:
        ffaccel.seam_ring(*args)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)


def test_tracker_bad_arguments():
    with pytest.raises(ValueError, match="t_in: expected a number >= 0"):
        ffaccel.MaskHysteresis(t_in=-1, t_out=0)
    with pytest.raises(ValueError, match="ring_hi: expected a value above ring_lo"):
        ffaccel.MaskHysteresis(t_in=0, t_out=0, ring=(0.9, 0.1))
    with pytest.raises(TypeError, match="ring: expected None or"):
        ffaccel.MaskHysteresis(t_in=0, t_out=0, ring=0.5)
    with pytest.raises(TypeError, match="mask: expected a numpy array"):
        ffaccel.MaskHysteresis(t_in=0, t_out=0).update([[0.5]])
