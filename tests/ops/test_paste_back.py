"""paste_back / paste_back_batch on the CPU path: reference, FaceFusion, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from paste_reference import facefusion_paste_back, paste_reference
from strategies import examples

COMPATS = [None, "facefusion-opencv5.0", "facefusion-opencv4"]


@st.composite
def paste_cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    c = draw(st.sampled_from([3, 4]))
    fh, fw = draw(st.integers(8, 200)), draw(st.integers(8, 200))
    ch, cw = draw(st.integers(4, 96)), draw(st.integers(4, 96))
    frame = rng.integers(0, 256, (fh, fw, c), dtype=np.uint8)
    if draw(st.booleans()):
        crop = rng.integers(0, 256, (ch, cw, c), dtype=np.uint8)
    else:
        crop = (rng.random((ch, cw, c)) * 255).astype(np.float32)
    if draw(st.booleans()):
        mask = (rng.random((ch, cw)) * 1.4 - 0.2).astype(np.float32)  # outside 0..1 too: must clip
    else:
        mask = rng.integers(0, 256, (ch, cw), dtype=np.uint8)
    angle = draw(st.floats(-np.pi, np.pi))
    scale = float(np.exp(draw(st.floats(np.log(0.2), np.log(5.0)))))
    tx, ty = draw(st.floats(-250, 150)), draw(st.floats(-250, 150))
    m = np.array([[scale * np.cos(angle), -scale * np.sin(angle), tx], [scale * np.sin(angle), scale * np.cos(angle), ty]])
    return frame, crop, mask, m


@settings(max_examples=examples(80), deadline=None)
@given(case=paste_cases(), compat=st.sampled_from(COMPATS))
def test_matches_reference(case, compat):
    frame, crop, mask, m = case
    if compat is not None and mask.dtype != np.float32:
        mask = mask.astype(np.float32) / 255
    before = frame.copy()
    got = ffaccel.paste_back(frame, crop, mask, m, compat=compat)
    np.testing.assert_array_equal(got, paste_reference(frame, crop, mask, m, compat))
    np.testing.assert_array_equal(frame, before)  # not in place: the frame is untouched


def test_facefusion_mode_matches_facefusion_with_installed_cv2(opencv_mode):
    cv2, mode = opencv_mode
    rng = np.random.default_rng(1)
    checked = 0
    for trial in range(30):
        frame = rng.integers(0, 256, (int(rng.integers(100, 720)), int(rng.integers(100, 1280)), 3), dtype=np.uint8)
        size = int(rng.choice([128, 256, 512]))
        crop = (rng.random((size, size, 3)) * 255).astype(np.float32) if trial % 2 else \
            rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        mask = np.clip(rng.random((size, size)) * 1.3 - 0.1, 0, None).astype(np.float32)
        s = rng.uniform(0.3, 3)
        a = rng.uniform(-0.5, 0.5)
        m = np.array([[s * np.cos(a), -s * np.sin(a), rng.uniform(-400, 50)],
                      [s * np.sin(a), s * np.cos(a), rng.uniform(-300, 50)]])
        try:
            want = facefusion_paste_back(frame, crop, mask, m)
        except ValueError:
            continue  # the face misses the frame: FaceFusion itself fails there
        np.testing.assert_array_equal(ffaccel.paste_back(frame, crop, mask, m, compat="facefusion"), want)
        np.testing.assert_array_equal(ffaccel.paste_back(frame, crop, mask, m, compat="facefusion-" + mode), want)
        checked += 1
    assert checked >= 10, f"only {checked} cases exercised ({cv2.__version__})"


def test_facefusion_1080p_512_face(opencv_mode):
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8).astype(np.float32)
    mask = np.zeros((512, 512), np.float32)
    mask[40:-40, 40:-40] = 1.0
    m = np.array([[0.4312, -0.1187, -512.77], [0.1187, 0.4312, -201.31]])
    np.testing.assert_array_equal(ffaccel.paste_back(frame, crop, mask, m, compat="facefusion"),
                                  facefusion_paste_back(frame, crop, mask, m))


def test_default_rounds_where_facefusion_truncates():
    frame = np.full((64, 64, 3), 100, np.uint8)
    crop = np.full((32, 32, 3), 101, np.uint8)
    mask = np.full((32, 32), 0.5, np.float32)
    m = np.array([[1.0, 0, -16], [0, 1.0, -16]])
    default = ffaccel.paste_back(frame, crop, mask, m)
    ff = ffaccel.paste_back(frame, crop, mask, m, compat="facefusion-opencv5.0")
    assert default[32, 32, 0] == 100  # 100.5 rounds half to even
    assert ff[32, 32, 0] == 100  # truncation
    crop[:] = 104
    assert ffaccel.paste_back(frame, crop, mask, m)[32, 32, 0] == 102
    mask[:] = 0.7
    # 100 * 0.3 + 104 * 0.7 = 102.8: rounds to 103, truncates to 102
    assert ffaccel.paste_back(frame, crop, mask, m)[32, 32, 0] == 103
    assert ffaccel.paste_back(frame, crop, mask, m, compat="facefusion-opencv5.0")[32, 32, 0] == 102


def test_only_the_paste_area_is_written():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)
    mask = np.ones((50, 40), np.float32)
    m = np.array([[1.0, 0, -120.3], [0, 1.0, -70.6]])
    out = ffaccel.paste_back(frame, crop, mask, m)
    changed = np.argwhere((out != frame).any(-1))
    assert changed[:, 1].min() >= 120 and changed[:, 1].max() < 161
    assert changed[:, 0].min() >= 70 and changed[:, 0].max() < 121


def test_inplace_writes_frame_and_out_buffer():
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = rng.random((64, 64)).astype(np.float32)
    m = np.array([[0.9, 0.2, -20.0], [-0.2, 0.9, -10.0]])
    want = ffaccel.paste_back(frame, crop, mask, m)
    out = np.zeros_like(frame)
    assert ffaccel.paste_back(frame, crop, mask, m, out=out) is out
    np.testing.assert_array_equal(out, want)
    work = frame.copy()
    assert ffaccel.paste_back(work, crop, mask, m, inplace=True) is work
    np.testing.assert_array_equal(work, want)


def test_face_off_the_frame_leaves_it_unchanged():
    frame = np.random.default_rng(5).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    crop = np.zeros((20, 20, 3), np.uint8)
    mask = np.ones((20, 20), np.float32)
    m = np.array([[1.0, 0, 500.0], [0, 1.0, 500.0]])  # crop origin maps to (-500, -500)
    np.testing.assert_array_equal(ffaccel.paste_back(frame, crop, mask, m), frame)


@settings(max_examples=examples(25), deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), compat=st.sampled_from(COMPATS))
def test_batch_equals_successive_calls(seed, n, compat):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    crops = rng.integers(0, 256, (n, 48, 48, 3), dtype=np.uint8)
    masks = rng.random((n, 48, 48)).astype(np.float32)
    ms = np.array([[[1.1, 0.1, -rng.uniform(0, 150)], [-0.1, 1.1, -rng.uniform(0, 110)]] for _ in range(n)])
    want = frame
    for i in range(n):  # overlapping faces: order matters
        want = ffaccel.paste_back(want, crops[i], masks[i], ms[i], compat=compat)
    np.testing.assert_array_equal(ffaccel.paste_back_batch(frame, crops, masks, ms, compat=compat), want)


# ---------------------------------------------------------------- bad input

F = np.zeros((64, 64, 3), np.uint8)
C = np.zeros((32, 32, 3), np.uint8)
K = np.ones((32, 32), np.float32)
M = np.array([[1.0, 0, 0], [0, 1.0, 0]])


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(frame=np.zeros((64, 64), np.uint8)), ValueError, "frame: expected|channel|got 1"),
        (dict(frame=np.zeros((64, 64, 3), np.float32)), TypeError, "frame: expected dtype|got float32"),
        (dict(crop=np.zeros((32, 32, 4), np.uint8)), ValueError, "crop: expected 3 channels like frame, got 4"),
        (dict(crop=np.zeros((32, 32, 3), np.int32)), TypeError, "crop: expected dtype|got int32"),
        (dict(crop=np.zeros((32, 32), np.uint8)), ValueError, "crop: expected shape (h, w, C)"),
        (dict(mask=np.ones((32, 31), np.float32)), ValueError, "mask: expected shape (32, 32)"),
        (dict(mask=np.ones((32, 32), np.float64)), TypeError, "mask: expected dtype|got float64"),
        (dict(mask=np.ones((32, 32), np.uint8), compat="facefusion-opencv5.0"), TypeError, "mask: expected a float32 mask"),
        (dict(matrix=np.zeros((2, 3))), ValueError, "matrix: expected an invertible matrix|(matrix 0)"),
        (dict(matrix=np.full((2, 3), np.nan)), ValueError, "matrix: expected finite values, got NaN"),
        (dict(compat="opencv5.0"), ValueError, "compat: expected one of"),
        (dict(inplace=True, out=np.zeros((64, 64, 3), np.uint8)), ValueError, "out: expected None with inplace=True"),
        (dict(out=np.zeros((64, 65, 3), np.uint8)), ValueError, "out: expected shape (64, 64, 3)"),
    ],
)
def test_bad_input_names_the_argument_and_writes_nothing(kwargs, exc, words):
    args = dict(frame=F.copy(), crop=C, mask=K, matrix=M)
    args.update(kwargs)
    frame = args["frame"]
    before = frame.copy()
    with pytest.raises(exc) as info:
        ffaccel.paste_back(args.pop("frame"), args.pop("crop"), args.pop("mask"), args.pop("matrix"), **args)
    assert all(w in str(info.value) for w in words.split("|")), str(info.value)
    np.testing.assert_array_equal(frame, before)


def test_crop_sharing_memory_with_frame_is_refused():
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="crop: expected memory apart from frame"):
        ffaccel.paste_back(frame, frame[:32], np.ones((32, 64), np.float32), M)


def test_batch_count_mismatch():
    with pytest.raises(ValueError, match="masks: expected 2 masks"):
        ffaccel.paste_back_batch(F, np.zeros((2, 32, 32, 3), np.uint8), np.ones((3, 32, 32), np.float32),
                                 np.stack([M, M]))
    with pytest.raises(ValueError, match="matrices: expected 2 matrices"):
        ffaccel.paste_back_batch(F, np.zeros((2, 32, 32, 3), np.uint8), np.ones((2, 32, 32), np.float32),
                                 np.stack([M, M, M]))


def test_facefusion_without_cv2_says_what_to_do(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cv2(name, *a, **k):
        if name == "cv2":
            raise ImportError("no cv2")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    try:
        with pytest.raises(ValueError, match="cv2 is not importable"):
            ffaccel.paste_back(F, C, K, M, compat="facefusion")
    finally:
        monkeypatch.undo()


def test_deprecated_facefusion_opencv5_alias_warns():
    with pytest.warns(DeprecationWarning, match="facefusion-opencv5.0"):
        old = ffaccel.paste_back(F, C, K, M, compat="facefusion-opencv5")
    np.testing.assert_array_equal(old, ffaccel.paste_back(F, C, K, M, compat="facefusion-opencv5.0"))
