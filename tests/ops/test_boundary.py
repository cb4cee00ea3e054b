"""boundary_blend on the host: only the seam ring changes, against a numpy reference rule."""

from __future__ import annotations

import numpy as np
import pytest

import ffaccel


def _ring_reference(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within `width` px (Chebyshev) of a pixel on the other side of the 0.5 contour."""
    inside = mask >= 0.5
    h, w = inside.shape
    near_in = np.zeros_like(inside)
    near_out = np.zeros_like(inside)
    pi, po = np.pad(inside, width), np.pad(~inside, width)
    for dy in range(2 * width + 1):
        for dx in range(2 * width + 1):
            near_in |= pi[dy:dy + h, dx:dx + w]
            near_out |= po[dy:dy + h, dx:dx + w]
    return near_in & near_out


@pytest.mark.parametrize("width", [1, 3, 6])
def test_changes_stay_inside_the_ring(width):
    rng = np.random.default_rng(width)
    frame = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:90, 0:120]
    mask = (((xx - 60) / 35.0) ** 2 + ((yy - 45) / 28.0) ** 2 <= 1).astype(np.float32)
    out = ffaccel.boundary_blend(frame, mask, width)
    changed = np.any(out != frame, axis=-1)
    assert changed.any()
    assert not (changed & ~_ring_reference(mask, width)).any()


def test_a_step_becomes_a_ramp_and_modes_agree():
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[:, 30:] = 200
    mask = np.zeros((40, 60), np.uint8)
    mask[:, 30:] = 255
    out = ffaccel.boundary_blend(frame, mask, 4)
    row = out[20, 24:36, 0].astype(int)
    assert np.all(np.diff(row) >= 0) and row[0] == 0 and row[-1] == 200
    assert np.max(np.diff(row)) < 200 / 2  # no single jump carries most of the step
    buf = frame.copy()
    assert ffaccel.boundary_blend(buf, mask, 4, inplace=True) is buf
    np.testing.assert_array_equal(buf, out)
    dst = np.empty_like(frame)
    assert ffaccel.boundary_blend(frame, mask, 4, out=dst) is dst
    np.testing.assert_array_equal(dst, out)


def test_no_seam_no_change():
    frame = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    for mask in (np.zeros((20, 20), np.float32), np.ones((20, 20), np.float32)):
        np.testing.assert_array_equal(ffaccel.boundary_blend(frame, mask, 3), frame)


@pytest.mark.parametrize(
    "frame, mask, width, exc, text",
    [
        (np.zeros((8, 8, 3), np.float32), np.ones((8, 8), np.float32), 2, TypeError, "frame"),
        (np.zeros((8, 8), np.uint8), np.ones((8, 8), np.float32), 2, ValueError, "frame"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 9), np.float32), 2, ValueError, "mask"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float64), 2, TypeError, "mask"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float32), 0, ValueError, "width"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float32), 2.5, TypeError, "width"),
    ],
)
def test_bad_arguments_name_the_argument(frame, mask, width, exc, text):
    with pytest.raises(exc, match=text):
        ffaccel.boundary_blend(frame, mask, width)
