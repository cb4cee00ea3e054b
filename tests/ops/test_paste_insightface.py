"""paste_back_insightface on the CPU: byte-identical to insightface's paste (numpy + cv2
reference of its steps), the bytes outside the face untouched, bad input refused.

The reference runs the installed cv2, so the comparisons use compat="insightface" (the
installed generation); tests/run.sh runs this file under several OpenCV releases, and
benchmarks/verify_opencv_matrix.py checks every generation against the same reference
under every release (docs/insightface.md, "OpenCV releases").
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _core
from ffaccel.ops.paste_insightface import INSIGHTFACE_COMPAT, insightface_generation
from cpu_builds import digests_of_both_builds
from insightface_reference import face_matrix, reference_paste
from strategies import examples

cv2 = pytest.importorskip("cv2")
try:
    insightface_generation()
    SUPPORTED = True
except ValueError:
    SUPPORTED = False
GENERATIONS = tuple(c for c in INSIGHTFACE_COMPAT if c != "insightface")
needs_cv2_mode = pytest.mark.skipif(not SUPPORTED, reason=f"OpenCV {cv2.__version__} is not reproduced")


def _reference_or_unchanged(frame, crop, m):
    try:
        return reference_paste(frame, crop, m)
    except ValueError:  # stock: no mask pixel above 20 in the frame
        return frame


@st.composite
def cases(draw):
    h = draw(st.integers(24, 260))
    w = draw(st.integers(24, 330))
    cs = draw(st.sampled_from([128, 128, 112, 64, 17]))
    seed = draw(st.integers(0, 2**31 - 1))
    size = draw(st.floats(8.0, 1.6 * max(h, w)))
    angle = draw(st.floats(-180.0, 180.0))
    cx = draw(st.floats(-0.6 * size, w + 0.6 * size))
    cy = draw(st.floats(-0.6 * size, h + 0.6 * size))
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (cs, cs, 3), np.uint8)
    m = face_matrix((cx, cy), size, angle, crop=cs)
    if draw(st.booleans()):  # a general affine (shear, unequal scales), not only similarities
        m[:, :2] = m[:, :2] @ np.array([[1.0, draw(st.floats(-0.4, 0.4))], [0.0, draw(st.floats(0.6, 1.5))]])
    return frame, crop, m


@needs_cv2_mode
@settings(max_examples=examples(120), deadline=None)
@given(case=cases())
def test_matches_insightface_reference(case):
    frame, crop, m = case
    before = frame.copy()
    out = ffaccel.paste_back_insightface(frame, crop, m)
    np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))
    np.testing.assert_array_equal(frame, before)  # not in place: the input is untouched


@needs_cv2_mode
@pytest.mark.parametrize("w", [1016, 1017, 1019, 1020, 1023, 1024])  # every W % 4, W % 8, W % 16 class
def test_frame_width_classes(w):
    rng = np.random.default_rng(w)
    frame = rng.integers(0, 256, (300, w, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((w - 60.0, 150.0), 260.0, 33.0)  # the face reaches the right edge: the scalar tails
    np.testing.assert_array_equal(ffaccel.paste_back_insightface(frame, crop, m), reference_paste(frame, crop, m))


@needs_cv2_mode
@pytest.mark.parametrize("w", [1, 2, 3, 5, 7, 8, 9, 12, 15, 17])
def test_narrow_frames(w):
    """Blur rows narrower than one 8-column vector block (the scalar fallback of the vector
    tails) and formula runs of every length below 8. On a 1-column frame cv2.GaussianBlur
    skips its row pass (it sets the kernel width to 1)."""
    rng = np.random.default_rng(100 + w)
    for angle in (0.0, 37.0, 90.0):
        frame = rng.integers(0, 256, (90, w, 3), np.uint8)
        crop = rng.integers(0, 256, (64, 64, 3), np.uint8)
        m = face_matrix((w / 2, 45.0), 70.0, angle, crop=64)
        out = ffaccel.paste_back_insightface(frame, crop, m)
        np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))
        assert (out != frame).any()  # the face reaches the frame: the blur ran


@needs_cv2_mode
@pytest.mark.parametrize("h", [1, 2, 3, 5, 8, 9, 17])
def test_low_frames(h):
    """Frames a few rows high, the face in the middle and at the right edge (OpenCV 5's
    unfused row and column tails for W % 8 = 7). On a 1-row frame cv2.GaussianBlur skips
    its column pass (it sets the kernel height to 1)."""
    rng = np.random.default_rng(200 + h)
    for w, cx in ((90, 45.0), (1023, 1013.0)):
        for angle in (0.0, 37.0, 90.0):
            frame = rng.integers(0, 256, (h, w, 3), np.uint8)
            crop = rng.integers(0, 256, (64, 64, 3), np.uint8)
            m = face_matrix((cx, h / 2), 70.0, angle, crop=64)
            out = ffaccel.paste_back_insightface(frame, crop, m)
            np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))
            assert (out != frame).any()


@needs_cv2_mode
@pytest.mark.parametrize("size", [0.7, 3.0, 40.0, 300.0])
def test_one_by_one_frame(size):
    """A 1x1 frame: cv2.GaussianBlur copies a 1x1 image (both passes skipped)."""
    rng = np.random.default_rng(int(size * 10))
    changed = 0
    for angle in (0.0, 30.0):
        for dx in (0.0, 0.4, -0.9):
            frame = rng.integers(0, 256, (1, 1, 3), np.uint8)
            crop = rng.integers(0, 256, (64, 64, 3), np.uint8)
            m = face_matrix((dx, 0.0), size, angle, crop=64)
            out = ffaccel.paste_back_insightface(frame, crop, m)
            np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))
            changed += bool((out != frame).any())
    assert changed  # the face covers the pixel in some of them


@st.composite
def one_pixel_axis_cases(draw):
    """Frames 1 pixel wide, 1 pixel high or 1x1, any face over or near them."""
    n = draw(st.integers(1, 400))
    h, w = draw(st.sampled_from([(n, 1), (1, n), (1, 1)]))
    cs = draw(st.sampled_from([128, 64, 17]))
    size = draw(st.floats(0.5, 1.5 * max(h, w) + 20))
    cx = draw(st.floats(-0.6 * size, w + 0.6 * size))
    cy = draw(st.floats(-0.6 * size, h + 0.6 * size))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (cs, cs, 3), np.uint8)
    m = face_matrix((cx, cy), size, draw(st.floats(-180.0, 180.0)), crop=cs)
    if draw(st.booleans()):
        m[:, :2] = m[:, :2] @ np.array([[1.0, draw(st.floats(-0.4, 0.4))], [0.0, draw(st.floats(0.6, 1.5))]])
    return frame, crop, m


@needs_cv2_mode
@settings(max_examples=examples(80), deadline=None)
@given(case=one_pixel_axis_cases())
def test_one_pixel_axis_matches_insightface_reference(case):
    frame, crop, m = case
    out = ffaccel.paste_back_insightface(frame, crop, m)
    np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))


@needs_cv2_mode
@pytest.mark.parametrize("h,w,size,angle", [(1080, 1920, 380, 20), (720, 1280, 900, -70), (1080, 1920, 60, 90)])
def test_frame_sizes(h, w, size, angle):
    rng = np.random.default_rng(h + int(size))
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((w * 0.45, h * 0.55), size, angle)
    np.testing.assert_array_equal(ffaccel.paste_back_insightface(frame, crop, m), reference_paste(frame, crop, m))


@needs_cv2_mode
@settings(max_examples=examples(40), deadline=None)
@given(case=cases())
def test_nothing_changes_outside_the_reach_of_the_mask(case):
    """Changed pixels lie in B grown by r (docs/insightface.md): B bounds the mask, r the blur."""
    frame, crop, m = case
    out = ffaccel.paste_back_insightface(frame, crop, m)
    x1, y1, x2, y2, rmax = _core.insightface_box(np.ascontiguousarray(m.reshape(6)), frame.shape[1], frame.shape[0],
                                                  crop.shape[1], crop.shape[0])
    changed = (out != frame).any(axis=2)
    outside = np.ones_like(changed)
    outside[max(0, y1 - rmax):y2 + rmax, max(0, x1 - rmax):x2 + rmax] = False
    assert not changed[outside].any()
    # and B does bound the warped mask: cv2's warp of the white crop is 0 outside it
    white = cv2.warpAffine(np.full(crop.shape[:2], 255, np.float32), cv2.invertAffineTransform(m),
                           (frame.shape[1], frame.shape[0]), borderValue=0.0)
    inside_b = np.zeros(white.shape, bool)
    inside_b[y1:y2, x1:x2] = True
    assert not white[~inside_b].any()


@st.composite
def interior_cases(draw):
    """Faces well inside the frame: the CPU path's span shortcuts (every erode and row-blur
    window inside the frame) run on these, under every rotation, shear and crop size."""
    size = draw(st.floats(6.0, 150.0))
    h = draw(st.integers(int(2.6 * size) + 24, int(2.6 * size) + 120))
    w = draw(st.integers(int(2.6 * size) + 24, int(2.6 * size) + 160))
    cs = draw(st.sampled_from([128, 128, 112, 17]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (cs, cs, 3), np.uint8)
    cx = draw(st.floats(w / 2 - 10, w / 2 + 10))
    cy = draw(st.floats(h / 2 - 10, h / 2 + 10))
    m = face_matrix((cx, cy), size, draw(st.floats(-180.0, 180.0)), crop=cs)
    if draw(st.booleans()):
        m[:, :2] = m[:, :2] @ np.array([[1.0, draw(st.floats(-0.3, 0.3))], [0.0, draw(st.floats(0.8, 1.25))]])
    return frame, crop, m


@needs_cv2_mode
@settings(max_examples=examples(150), deadline=None)
@given(case=interior_cases())
def test_interior_faces_match_insightface_reference(case):
    frame, crop, m = case
    out = ffaccel.paste_back_insightface(frame, crop, m)
    np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))


@needs_cv2_mode
@pytest.mark.parametrize("h,w,cx,cy,size", [
    (1080, 1920, 960.0, 30.0, 300.0),  # R across the top edge: the copied rows are all below it
    (1080, 1920, 960.0, 1050.0, 300.0),  # across the bottom edge
    (1080, 1920, 1900.0, 540.0, 500.0),  # across the right edge, copied rows above and below
    (1080, 1920, 5000.0, 540.0, 300.0),  # off the frame: the frame copied alone
    (240, 320, 160.0, 120.0, 150.0),  # under 1 MB: copied through the cache
])
def test_new_frame_into_a_sentinel_every_byte_written(h, w, cx, cy, size):
    # Into a new frame the CPU path copies the frame row by row inside its last phase, R's
    # rows through the cache and the others streamed (kernels/cpu/paste_insightface.cpp);
    # out= starts as a sentinel, so a row or byte that neither the copy nor the blend writes
    # shows.
    rng = np.random.default_rng(int(cx + cy))
    frame = rng.integers(0, 256, (h, w, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((cx, cy), size, 20.0)
    out = np.full_like(frame, 77)
    assert ffaccel.paste_back_insightface(frame, crop, m, out=out) is out
    np.testing.assert_array_equal(out, _reference_or_unchanged(frame, crop, m))


@needs_cv2_mode
def test_inplace_out_and_new_agree():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (400, 600, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((300.0, 200.0), 240.0, 12.0)
    new = ffaccel.paste_back_insightface(frame, crop, m)
    out = np.zeros_like(frame)
    assert ffaccel.paste_back_insightface(frame, crop, m, out=out) is out
    inplace = frame.copy()
    assert ffaccel.paste_back_insightface(inplace, crop, m, inplace=True) is inplace
    np.testing.assert_array_equal(new, out)
    np.testing.assert_array_equal(new, inplace)
    np.testing.assert_array_equal(new, reference_paste(frame, crop, m))


@needs_cv2_mode
def test_non_contiguous_inputs_as_stock():
    rng = np.random.default_rng(4)
    frame = np.rot90(rng.integers(0, 256, (500, 380, 3), np.uint8))  # (380, 500, 3) view
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)[:, :, ::-1]  # stock's bgr_fake view
    m = face_matrix((250.0, 190.0), 200.0, -30.0).astype(np.float32).astype(np.float64)
    out = ffaccel.paste_back_insightface(frame, crop, m)
    np.testing.assert_array_equal(out, reference_paste(frame, crop, m))
    assert out.flags.c_contiguous


def test_face_off_the_frame_returns_it_unchanged():
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (200, 300, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((-400.0, 100.0), 150.0, 0.0)
    with pytest.raises(ValueError):
        reference_paste(frame, crop, m)  # stock fails here
    for compat in GENERATIONS:
        np.testing.assert_array_equal(ffaccel.paste_back_insightface(frame, crop, m, compat=compat), frame)


def test_gaussian_kernel_matches_opencv():
    for ks in range(11, 4002, 2):
        ref = cv2.getGaussianKernel(ks, 0, ktype=cv2.CV_32F).ravel()
        got = _core.insightface_gaussian_kernel(ks)
        assert np.array_equal(got, ref), ks


@pytest.mark.parametrize("version, want", [
    ("4.8.0", "insightface-opencv4"), ("4.8.1", "insightface-opencv4"), ("4.9.0", "insightface-opencv4"),
    ("4.10.0", "insightface-opencv4"), ("4.11.0", "insightface-opencv4"), ("4.12.0", "insightface-opencv4"),
    ("4.13.0", "insightface-opencv4.13"), ("4.13.0-dev", "insightface-opencv4.13"), ("5.0.0", "insightface-opencv5"),
    ("5.1.0", "insightface-opencv5"),  # ipp=None with a version: assumed off
])
def test_generation_of_each_release(version, want):
    assert insightface_generation(version) == want


def test_generation_of_the_imported_cv2():
    # The installed release by name (tests/run.sh and benchmarks/verify_opencv_matrix.py run
    # this file under 4.8 .. 5.1): the same answer as the explicit form.
    if not SUPPORTED:
        pytest.skip(f"OpenCV {cv2.__version__} is not reproduced")
    assert insightface_generation() == insightface_generation(cv2.__version__, ipp=bool(cv2.ipp.useIPP()))
    assert insightface_generation() in GENERATIONS


def test_generations_are_distinct_modes():
    # Each named generation is its own (warp, blur) pair: on a frame whose width leaves a
    # blur tail (W % 8 != 0) and a face reaching the right edge, the three give three results.
    rng = np.random.default_rng(1017)
    frame = rng.integers(0, 256, (300, 1017, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m = face_matrix((957.0, 150.0), 260.0, 33.0)
    outs = {c: ffaccel.paste_back_insightface(frame, crop, m, compat=c) for c in GENERATIONS}
    for a in GENERATIONS:
        for b in GENERATIONS:
            if a < b:
                assert not np.array_equal(outs[a], outs[b]), (a, b)
    # 4.13 shares 4.x's warp: it differs from 4.x only where the blur's tail columns reach
    # (x >= W - W % 8 and within the blur radius of them), and from 5.x almost everywhere.
    d4 = np.argwhere((outs["insightface-opencv4"] != outs["insightface-opencv4.13"]).any(axis=2))
    assert d4[:, 1].min() >= 1017 - 1017 % 8 - 60
    d5 = np.count_nonzero(outs["insightface-opencv5"] != outs["insightface-opencv4.13"])
    assert d5 > 100 * len(d4)


def test_generation_mapping():
    assert insightface_generation("4.12.0") == "insightface-opencv4"
    assert insightface_generation("5.0.0") == "insightface-opencv5"
    assert insightface_generation("5.1.0", ipp=False) == "insightface-opencv5"
    with pytest.raises(ValueError, match="IPP"):
        insightface_generation("5.1.0", ipp=True)
    with pytest.raises(ValueError, match="5.2"):
        insightface_generation("5.2.0")
    with pytest.raises(ValueError, match="version"):
        insightface_generation("x.y")


def test_baseline_and_avx2_builds_agree():
    script = r'''
import hashlib, numpy as np, ffaccel
from insightface_reference import face_matrix
h = hashlib.sha256()
rng = np.random.default_rng(0)
for t in range(12):
    H, W = int(rng.integers(100, 400)), int(rng.integers(100, 500))
    frame = rng.integers(0, 256, (H, W, 3), np.uint8)
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    if t % 2:  # well inside the frame (the span shortcuts) or anywhere
        m = face_matrix((W / 2, H / 2), rng.uniform(10, min(H, W) / 2.6), rng.uniform(-90, 90))
    else:
        m = face_matrix((rng.uniform(0, W), rng.uniform(0, H)), rng.uniform(30, 400), rng.uniform(-90, 90))
    for compat in ("insightface-opencv4", "insightface-opencv4.13", "insightface-opencv5"):
        h.update(ffaccel.paste_back_insightface(frame, crop, m, compat=compat).tobytes())
print(h.hexdigest())
'''
    digests = digests_of_both_builds(script, timeout=600)
    assert digests[0] == digests[1]


# ---------------------------------------------------------------- bad input

FRAME = np.zeros((64, 80, 3), np.uint8)
CROP = np.zeros((32, 32, 3), np.uint8)
M = face_matrix((40.0, 32.0), 40.0, 0.0, crop=32)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(frame=np.zeros((64, 80, 3), np.float32)), TypeError, "frame"),
    (dict(frame=np.zeros((64, 80, 4), np.uint8)), ValueError, "frame"),
    (dict(frame=np.zeros((64, 80), np.uint8)), ValueError, "frame"),
    (dict(frame=[[1, 2, 3]]), TypeError, "frame"),
    (dict(crop=np.zeros((32, 32, 3), np.float32)), TypeError, "crop"),
    (dict(crop=np.zeros((32, 32), np.uint8)), ValueError, "crop"),
    (dict(crop=np.zeros((0, 32, 3), np.uint8)), ValueError, "crop"),
    (dict(matrix=np.zeros((3, 3))), ValueError, "matrix"),
    (dict(matrix=np.array([[np.nan, 0, 0], [0, 1.0, 0]])), ValueError, "matrix"),
    (dict(matrix=np.zeros((2, 3))), ValueError, "matrix"),
    (dict(matrix="M"), TypeError, "matrix"),
    (dict(compat="opencv5"), ValueError, "compat"),
    (dict(compat=None), ValueError, "compat"),
    (dict(out=np.zeros((64, 80, 3), np.uint8), inplace=True), ValueError, "out"),
    (dict(out=np.zeros((64, 81, 3), np.uint8)), ValueError, "out"),
    (dict(out=np.zeros((64, 80, 3), np.float32)), TypeError, "out"),
])
def test_bad_arguments_are_named(kwargs, exc, match):
    args = dict(frame=FRAME.copy(), crop=CROP, matrix=M, compat="insightface-opencv5")
    args.update(kwargs)
    frame = args.pop("frame")
    before = frame.copy() if isinstance(frame, np.ndarray) else None
    out_before = args["out"].copy() if isinstance(args.get("out"), np.ndarray) else None
    with pytest.raises(exc, match=match):
        ffaccel.paste_back_insightface(frame, args.pop("crop"), args.pop("matrix"), **args)
    if before is not None:
        np.testing.assert_array_equal(frame, before)  # nothing written
    if out_before is not None:
        np.testing.assert_array_equal(kwargs["out"], out_before)  # nothing written


def test_read_only_buffers():
    ro = FRAME.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="frame"):
        ffaccel.paste_back_insightface(ro, CROP, M, compat="insightface-opencv5", inplace=True)
    out = np.zeros_like(FRAME)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        ffaccel.paste_back_insightface(FRAME, CROP, M, compat="insightface-opencv5", out=out)
    # a read-only frame and crop are fine as inputs
    crop = CROP.copy()
    crop.flags.writeable = False
    res = ffaccel.paste_back_insightface(ro, crop, M, compat="insightface-opencv5")
    assert res.shape == FRAME.shape


def test_overlapping_buffers():
    buf = np.zeros(3 * 64 * 80 * 3, np.uint8)
    frame = buf[:64 * 80 * 3].reshape(64, 80, 3)
    n = 32 * 32 * 3
    with pytest.raises(ValueError, match="crop"):
        ffaccel.paste_back_insightface(frame, buf[100:100 + n].reshape(32, 32, 3), M, compat="insightface-opencv5")
    crop = buf[-n:].reshape(32, 32, 3)
    out = buf[-64 * 80 * 3:].reshape(64, 80, 3)  # overlaps the crop, not the frame
    with pytest.raises(ValueError, match="out"):
        ffaccel.paste_back_insightface(frame, crop, M, compat="insightface-opencv5", out=out)
    with pytest.raises(ValueError, match="out"):
        ffaccel.paste_back_insightface(frame, np.zeros((32, 32, 3), np.uint8), M, compat="insightface-opencv5",
                                       out=buf[100:100 + 64 * 80 * 3].reshape(64, 80, 3))  # overlaps the frame
    # The rule holds for the arrays as given, on every device: a non-contiguous numpy input
    # is copied before the kernel reads it, but sharing memory with it is refused all the
    # same (a GPU crop cannot be non-contiguous, so there such a crop always aliases).
    big = np.zeros((200, 200, 3), np.uint8)
    m32 = face_matrix((100.0, 100.0), 60.0, 0.0, crop=32)
    with pytest.raises(ValueError, match="crop: expected memory apart from frame"):
        ffaccel.paste_back_insightface(big, big[50:82, :32], m32, compat="insightface-opencv5")
    shared = np.zeros(200 * 200 * 3, np.uint8)
    out = shared.reshape(200, 200, 3)
    crop_in_out = shared[3000:3000 + 32 * 32 * 3].reshape(32, 32, 3)[:, :, ::-1]  # fuzz case 5687's shape
    with pytest.raises(ValueError, match="out: expected memory apart from crop"):
        ffaccel.paste_back_insightface(big, crop_in_out, m32, compat="insightface-opencv5", out=out)
    frame_in_out = out.transpose(1, 0, 2)  # non-contiguous: copied first, still refused
    with pytest.raises(ValueError, match="out: expected memory apart from frame"):
        ffaccel.paste_back_insightface(frame_in_out, np.zeros((32, 32, 3), np.uint8), m32,
                                       compat="insightface-opencv5", out=out)
    assert not shared.any()  # nothing written by the refused calls
    before = big.copy()
    res = ffaccel.paste_back_insightface(big, big[50:82, :32].copy(), m32, compat="insightface-opencv5")
    assert res.shape == big.shape and np.array_equal(big, before)


def test_recycled_output_frames_never_alias_a_held_result():
    rng = np.random.default_rng(6)
    frame = rng.integers(0, 256, (1700, 2000, 3), np.uint8)  # above the pool's size threshold
    crop = rng.integers(0, 256, (128, 128, 3), np.uint8)
    m1 = face_matrix((700.0, 800.0), 300.0, 10.0)
    m2 = face_matrix((1300.0, 800.0), 300.0, -10.0)
    a = ffaccel.paste_back_insightface(frame, crop, m1, compat="insightface-opencv5")
    a_copy = a.copy()
    view = a[100:200]
    b = ffaccel.paste_back_insightface(frame, crop, m2, compat="insightface-opencv5")
    assert not np.shares_memory(a, b)
    del a
    c = ffaccel.paste_back_insightface(frame, crop, m2, compat="insightface-opencv5")
    assert not np.shares_memory(view, c) and not np.shares_memory(b, c)  # a view keeps its base held
    np.testing.assert_array_equal(view, a_copy[100:200])
    np.testing.assert_array_equal(b, c)
