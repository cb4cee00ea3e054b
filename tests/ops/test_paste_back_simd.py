"""paste_back's CPU SIMD path (kernels/cpu/paste_simd.h): its seams, byte for byte.

The x86-64-v3 build pastes 8 area pixels per block, moves a row's last block left to
end at the row's end, skips blocks whose mask samples are all 0 and columns that no
mask tap can reach, and stores opaque blocks (m == 1) without reading the frame. Each
case here aims at one of those seams and checks the result against the independent
numpy reference (paste_reference.py) and, for what the reference cannot say (NaN
crops), against the baseline build's scalar loop.
"""

from __future__ import annotations


import numpy as np
import pytest

import ffaccel
from cpu_builds import digests_of_both_builds
from paste_reference import paste_reference

COMPATS = [None, "facefusion-opencv5.0", "facefusion-opencv4"]
LAYOUTS = [(c, crop_dtype, mask_dtype) for c in (3, 4) for crop_dtype in (np.uint8, np.float32)
           for mask_dtype in (np.float32, np.uint8)]


def _crop(rng, h, w, c, dtype):
    if dtype == np.uint8:
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return (rng.random((h, w, c)) * 255).astype(np.float32)


def _mask(rng, h, w, dtype, kind="random"):
    """Masks with 0 and 1 in whole 8-pixel runs as well as fractional values."""
    if kind == "random":
        m = rng.random((h, w)) * 1.4 - 0.2
    else:  # stripes: runs of 0, of 1 and of fractions, of varying widths
        m = np.zeros((h, w))
        x = 0
        while x < w:
            run = int(rng.integers(1, 20))
            m[:, x:x + run] = rng.choice([0.0, 1.0, rng.random()])
            x += run
        m[rng.random((h, w)) < 0.05] = 0.0
    if dtype == np.uint8:
        return (np.clip(m, 0, 1) * 255).round().astype(np.uint8)
    return m.astype(np.float32)


def _check(frame, crop, mask, m):
    for compat in COMPATS:
        if compat is not None and mask.dtype != np.float32:
            continue  # the FaceFusion modes take float masks only
        got = ffaccel.paste_back(frame, crop, mask, m, compat=compat)
        want = paste_reference(frame, crop, mask, m, compat)
        np.testing.assert_array_equal(got, want, err_msg=f"compat={compat}")
        work = frame.copy()
        ffaccel.paste_back(work, crop, mask, m, compat=compat, inplace=True)
        np.testing.assert_array_equal(work, want, err_msg=f"compat={compat} in place")


@pytest.mark.parametrize("c, crop_dtype, mask_dtype", LAYOUTS)
def test_area_widths_1_to_40(c, crop_dtype, mask_dtype):
    """Every block/leftover split of a row, unrotated (area width = crop width) and rotated."""
    rng = np.random.default_rng(c * 10 + (crop_dtype == np.uint8) * 2 + (mask_dtype == np.uint8))
    frame = rng.integers(0, 256, (60, 70, c), dtype=np.uint8)
    for w in range(1, 41):
        crop = _crop(rng, 11, w, c, crop_dtype)
        mask = _mask(rng, 11, w, mask_dtype, "stripes" if w % 2 else "random")
        _check(frame, crop, mask, np.array([[1.0, 0, -5.25], [0, 1.0, -7.5]]))
        a, s = rng.uniform(-0.6, 0.6), rng.uniform(0.7, 1.4)
        _check(frame, crop, mask, np.array([[s * np.cos(a), -s * np.sin(a), -rng.uniform(0, 20)],
                                            [s * np.sin(a), s * np.cos(a), -rng.uniform(0, 20)]]))


@pytest.mark.parametrize("c, crop_dtype, mask_dtype", LAYOUTS)
def test_areas_touching_each_frame_edge(c, crop_dtype, mask_dtype):
    rng = np.random.default_rng(7 + c)
    frame = rng.integers(0, 256, (50, 64, c), dtype=np.uint8)
    crop = _crop(rng, 40, 37, c, crop_dtype)
    mask = _mask(rng, 40, 37, mask_dtype)
    for tx in (30.0, 9.5, 0.0, -20.0, -40.0, -50.25, -60.0):
        for ty in (25.0, 0.0, -10.5, -30.0, -45.0):
            a = rng.uniform(-0.4, 0.4)
            _check(frame, crop, mask, np.array([[np.cos(a), -np.sin(a), tx], [np.sin(a), np.cos(a), ty]]))


@pytest.mark.parametrize("c", [3, 4])
def test_mask_zero_in_whole_blocks_and_opaque_blocks(c):
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 256, (120, 130, c), dtype=np.uint8)
    for crop_dtype in (np.uint8, np.float32):
        crop = _crop(rng, 96, 96, c, crop_dtype)
        for mask_dtype in (np.float32, np.uint8):
            mask = _mask(rng, 96, 96, mask_dtype, "stripes")
            mask[40:60] = 0  # whole zero rows
            mask[:, 10:30] = 1 if mask_dtype == np.float32 else 255
            for m in (np.array([[1.0, 0, -10.0], [0, 1.0, -12.0]]), np.array([[0.8, 0.3, -5.0], [-0.3, 0.8, 20.0]]),
                      np.array([[1.9, 0.2, -30.0], [-0.2, 1.9, -40.0]])):
                _check(frame, crop, mask, m)


@pytest.mark.parametrize("c", [3, 4])
def test_float_crops_out_of_range(c):
    """Values below 0, above 255 and huge: the clamp before the conversion. (Infinities
    give NaN in the lerps, where the reference has no say: the baseline test has them.)"""
    rng = np.random.default_rng(13)
    frame = rng.integers(0, 256, (70, 90, c), dtype=np.uint8)
    crop = rng.choice(np.array([-1e30, -300.0, -0.5, -0.0, 0.49, 127.5, 254.5, 255.4, 255.5, 300.0, 1e30], np.float32),
                      (48, 52, c))
    crop = np.where(rng.random(crop.shape) < 0.5, crop, rng.random(crop.shape) * 600 - 150).astype(np.float32)
    for mask_dtype in (np.float32, np.uint8):
        mask = _mask(rng, 48, 52, mask_dtype, "stripes")
        mask[rng.random(mask.shape) < 0.2] = 0
        for m in (np.array([[1.0, 0, -3.0], [0, 1.0, -4.0]]), np.array([[0.9, 0.35, -8.0], [-0.35, 0.9, 12.0]])):
            with np.errstate(invalid="ignore", over="ignore"):
                _check(frame, crop, mask, m)


@pytest.mark.parametrize("compat", COMPATS)
@pytest.mark.parametrize("c", [3, 4])
def test_batch_with_overlapping_faces(compat, c):
    rng = np.random.default_rng(17 + c)
    frame = rng.integers(0, 256, (150, 170, c), dtype=np.uint8)
    n = 6
    crops = (rng.random((n, 41, 45, c)) * 255).astype(np.float32)
    masks = np.stack([_mask(rng, 41, 45, np.float32, "stripes") for _ in range(n)])
    ms = np.array([[[1.0 + 0.1 * i, 0.2 * (i - 3), -10.0 - 15 * i], [-0.2 * (i - 3), 1.0 + 0.1 * i, -5.0 - 9 * i]]
                   for i in range(n)])
    want = frame
    for i in range(n):
        want = paste_reference(want, crops[i], masks[i], ms[i], compat)
    np.testing.assert_array_equal(ffaccel.paste_back_batch(frame, crops, masks, ms, compat=compat), want)
    work = frame.copy()
    ffaccel.paste_back_batch(work, crops, masks, ms, compat=compat, inplace=True)
    np.testing.assert_array_equal(work, want)


def test_baseline_build_gives_the_same_bytes():
    """The baseline (SSE2, scalar) and x86-64-v3 (AVX2) builds of the paste loop agree byte
    for byte, NaN and infinite crop values included (the reference has no say on NaN)."""
    script = r'''
import hashlib
import numpy as np
import ffaccel
rng = np.random.default_rng(2025)
h = hashlib.sha256()
specials = np.array([np.nan, np.inf, -np.inf, -1e30, 1e30, -0.0, 255.5, -0.5], np.float32)
for trial in range(90):
    c = 3 + trial % 2
    fh, fw = int(rng.integers(8, 150)), int(rng.integers(8, 150))
    ch, cw = int(rng.integers(2, 70)), int(rng.integers(2, 70))
    frame = rng.integers(0, 256, (fh, fw, c), dtype=np.uint8)
    if trial % 3 == 0:
        crop = rng.integers(0, 256, (ch, cw, c), dtype=np.uint8)
    else:
        crop = (rng.random((ch, cw, c)) * 300 - 20).astype(np.float32)
        if trial % 3 == 2:
            crop[rng.random(crop.shape) < 0.05] = rng.choice(specials)
    mask = (rng.random((ch, cw)) * 1.4 - 0.2).astype(np.float32)
    mask[:, : int(rng.integers(0, cw))] = 0
    mask[rng.random(mask.shape) < 0.1] = 1
    if trial % 7 == 0:
        mask[rng.random(mask.shape) < 0.02] = np.nan
    ang, s = rng.uniform(-3.1, 3.1), np.exp(rng.uniform(-1.5, 1.5))
    m = np.array([[s * np.cos(ang), -s * np.sin(ang), rng.uniform(-80, 60)],
                  [s * np.sin(ang), s * np.cos(ang), rng.uniform(-80, 60)]])
    for compat in (None, "facefusion-opencv5.0", "facefusion-opencv4"):
        with np.errstate(all="ignore"):
            h.update(ffaccel.paste_back(frame, crop, mask, m, compat=compat).tobytes())
            if compat is None:
                u8 = (np.nan_to_num(np.clip(mask, 0, 1)) * 255).astype(np.uint8)
                h.update(ffaccel.paste_back(frame, crop, u8, m).tobytes())
print(h.hexdigest())
'''
    digests = digests_of_both_builds(script, timeout=600)
    assert digests[0] == digests[1]
