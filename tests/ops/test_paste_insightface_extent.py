"""The thresholded mask's extent, computed on the host from the matrix alone.

paste_back_insightface takes the erode and blur sizes from the rows and columns where
stock's warped, thresholded mask is 255. The mask warps a constant-255 crop, so that
extent depends only on M and the crop and frame sizes: both paths compute it on the
host (``_core.insightface_extent``), and the GPU path never reads the mask back. Here
it is compared with the extent of the mask itself, warped for real:

- by the installed cv2, as stock insightface does (the installed generation);
- by ffaccel.warp_affine in each OpenCV mode (both generations on any cv2; warp_affine's
  own tests prove those modes byte-identical to cv2 4.x and 5.0).

Faces partly or wholly off the frame, sheared matrices, and faces down to a 1-pixel
paste area are drawn on purpose.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ffaccel
from ffaccel import _core
from ffaccel.ops.paste_insightface import _MODES, insightface_generation
from insightface_reference import face_matrix
from strategies import examples

_WARP_COMPAT = {"insightface-opencv4": "opencv4", "insightface-opencv4.13": "opencv4", "insightface-opencv5": "opencv5.0"}


def _inverse(m: np.ndarray) -> np.ndarray:
    """cv2.invertAffineTransform's formula, in numpy (independent of ffaccel)."""
    a, b, c, d, e, f = m.reshape(6).tolist()
    det = a * e - b * d
    inv = 1.0 / det
    a11, a22, b12, b21 = e * inv, a * inv, -b * inv, -d * inv
    return np.array([[a11, b12, -a11 * c - b12 * f], [b21, a22, -b21 * c - a22 * f]])


def _extent_of(white: np.ndarray):
    """(ymin, ymax, xmin, xmax) where the thresholded mask is 255, stock's steps; None if none."""
    t = white.copy()
    t[t > 20] = 255
    ys, xs = np.where(t == 255)
    if ys.size == 0:
        return None
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def _host_extent(m, w, h, cw, ch, compat):
    warp = _MODES[compat][0]
    return _core.insightface_extent(np.ascontiguousarray(m, np.float64).reshape(6), w, h, cw, ch, warp)


@st.composite
def faces(draw):
    h = draw(st.integers(1, 200))
    w = draw(st.integers(1, 260))
    cw = draw(st.sampled_from([128, 128, 112, 64, 17, 2, 1]))
    ch = draw(st.sampled_from([cw, cw, 128, 5]))
    tiny = draw(st.booleans())  # faces of a few pixels: paste areas down to one pixel
    size = draw(st.floats(0.3, 6.0) if tiny else st.floats(6.0, 1.6 * max(h, w, 8)))
    angle = draw(st.floats(-180.0, 180.0))
    cx = draw(st.floats(-0.7 * size - 3, w + 0.7 * size + 3))
    cy = draw(st.floats(-0.7 * size - 3, h + 0.7 * size + 3))
    m = face_matrix((cx, cy), size, angle, crop=cw)
    m[1, 2] += (ch - cw) / 2  # centre the (possibly non-square) crop
    if draw(st.booleans()):  # a general affine (shear, unequal scales)
        m[:, :2] = m[:, :2] @ np.array([[1.0, draw(st.floats(-0.5, 0.5))], [0.0, draw(st.floats(0.5, 1.6))]])
    return m, w, h, cw, ch


@settings(max_examples=examples(400), deadline=None)
@given(face=faces(), compat=st.sampled_from(sorted(_WARP_COMPAT)))
def test_host_extent_equals_the_warped_mask(face, compat):
    m, w, h, cw, ch = face
    white = np.full((ch, cw), 255, np.float32)
    mask = ffaccel.warp_affine(white, _inverse(m), (w, h), border="constant", border_value=0.0,
                               compat=_WARP_COMPAT[compat])
    assert _host_extent(m, w, h, cw, ch, compat) == _extent_of(mask)


cv2 = pytest.importorskip("cv2")
try:
    INSTALLED = insightface_generation()
except ValueError:
    INSTALLED = None


@pytest.mark.skipif(INSTALLED is None, reason=f"OpenCV {cv2.__version__} is not reproduced")
@settings(max_examples=examples(300), deadline=None)
@given(face=faces())
def test_host_extent_equals_stock_cv2_mask(face):
    m, w, h, cw, ch = face
    white = np.full((ch, cw), 255, np.float32)
    mask = cv2.warpAffine(white, cv2.invertAffineTransform(m), (w, h), borderValue=0.0)
    assert _host_extent(m, w, h, cw, ch, INSTALLED) == _extent_of(mask)


@pytest.mark.skipif(INSTALLED is None, reason=f"OpenCV {cv2.__version__} is not reproduced")
@pytest.mark.parametrize("h,w,size,angle,cx,cy", [
    (1080, 1920, 300, 20, 960, 540),
    (2160, 3840, 600, 20, 1920, 1080),
    (2160, 3840, 900, -45, 3700, 2000),  # partly off the frame
    (720, 1280, 200, 0, 640, 360),  # axis-aligned: whole rows and columns on the threshold
    (720, 1280, 200, 90, 1279.5, 0.5),  # a corner on the frame's corner
    (720, 1280, 1.2, 33, 100.25, 50.75),  # a one-pixel paste area
    (720, 1280, 200, 0, -500, 300),  # wholly off the frame: no extent
])
def test_host_extent_on_video_frames(h, w, size, angle, cx, cy):
    m = face_matrix((cx, cy), size, angle)
    white = np.full((128, 128), 255, np.float32)
    mask = cv2.warpAffine(white, cv2.invertAffineTransform(m), (w, h), borderValue=0.0)
    assert _host_extent(m, w, h, 128, 128, INSTALLED) == _extent_of(mask)


def test_one_pixel_paste_area_is_found():
    # A face a third of a pixel wide: one frame pixel's sample falls inside the crop.
    m = face_matrix((50.0, 40.0), 0.3, 10.0)
    ext = _host_extent(m, 100, 80, 128, 128, "insightface-opencv5")
    assert ext is not None and ext[0] == ext[1] and ext[2] == ext[3]
