"""The extension's per-frame calls (_core.WarpCall, _core.PasteCall), which the lean path
and prepared plans use: a refused call (matrix shape, matrix rule, overlapping buffers)
returns its status and writes nothing, so the Python layer can run the full checks and
raise their named error (tests/ops/test_prepared.py checks that end to end).
"""

from __future__ import annotations

import numpy as np
import pytest

from ffaccel import _core

U8, F32 = _core.DType.U8, _core.DType.F32
LAUNCHED, BAD_SHAPE, BAD_MATRIX, OVERLAP = 0, 1, 2, 3
BAD = [
    (np.zeros((2, 3)), BAD_MATRIX),                          # singular
    (np.array([[np.nan, 0, 0], [0, 1.0, 0]]), BAD_MATRIX),   # not finite
    (np.array([[2.0 ** 101, 0, 0], [0, 1.0, 0]]), BAD_MATRIX),  # entry past 2**100
    (np.array([[1e-40, 0, 0], [0, 1e-40, 0]]), BAD_MATRIX),  # inverse past 2**100
    (np.eye(2, 3)[None], BAD_SHAPE),                         # (1, 2, 3) for a single call
    (np.eye(3), BAD_SHAPE),
]


def ptr(a):
    return _core.host_ptr(a)


def _warp_call(src, out):
    img = _core.Image(0, src.shape[0], src.shape[1], 3, src.strides[0], 0, U8)
    dst = _core.Image(0, out.shape[0], out.shape[1], 3, out.strides[0], 0, U8)
    return _core.WarpCall(img, dst, 1, False, 0, 0, (0.0, 0.0, 0.0, 0.0), -1, src.nbytes, out.nbytes)


@pytest.mark.parametrize("matrix, status", BAD)
def test_warp_call_refuses_and_writes_nothing(matrix, status):
    src = np.full((8, 8, 3), 200, np.uint8)
    out = np.full((8, 8, 3), 17, np.uint8)
    call = _warp_call(src, out)
    assert call(ptr(src), ptr(out), matrix, 0) == status
    assert (out == 17).all()
    assert call(ptr(src), ptr(out), np.eye(2, 3), 0) == LAUNCHED
    assert (out == 200).all()


def test_warp_call_refuses_overlap():
    buf = np.full((8, 16, 3), 5, np.uint8)
    src, out = buf[:, :8], buf[:, 4:12]  # same rows: the byte ranges overlap
    call = _warp_call(np.empty((8, 8, 3), np.uint8), np.empty((8, 8, 3), np.uint8))
    assert call(ptr(src), ptr(out), np.eye(2, 3), 0) == OVERLAP
    assert (buf == 5).all()


def _paste_args(in_place=False):
    frame = np.full((40, 40, 3), 10, np.uint8)
    crop = np.full((16, 16, 3), 200, np.uint8)
    mask = np.ones((16, 16), np.float32)
    out = np.full_like(frame, 17)
    fi = _core.Image(0, 40, 40, 3, 120, 0, U8)
    call = _core.PasteCall(fi, fi, _core.Image(0, 16, 16, 3, 48, 0, U8), _core.Image(0, 16, 16, 1, 64, 0, F32), 1,
                           False, 0, False, in_place, -1, frame.nbytes, crop.nbytes, mask.nbytes)
    return call, frame, crop, mask, out


M = np.array([[1.0, 0, -5], [0, 1.0, -5]])  # crop = frame[5:21, 5:21]


@pytest.mark.parametrize("matrix, status", BAD)
def test_paste_call_refuses_bad_matrix_and_writes_nothing(matrix, status):
    call, frame, crop, mask, out = _paste_args()
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(out), matrix, 0) == status
    assert (out == 17).all() and (frame == 10).all()
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(out), M, 0) == LAUNCHED
    assert out[10, 10, 0] == 200 and out[0, 0, 0] == 10


def test_paste_call_refuses_overlap():
    call, frame, crop, mask, out = _paste_args()
    inside = np.full((40, 40, 3), 10, np.uint8)
    # the crop's bytes inside the frame's; the output over the crop or the mask
    assert call(ptr(inside), ptr(inside[8:]), ptr(mask), ptr(out), M, 0) == OVERLAP
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(crop), M, 0) == OVERLAP
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(mask), M, 0) == OVERLAP
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(frame), M, 0) == OVERLAP
    assert (inside == 10).all() and (frame == 10).all() and (crop == 200).all() and (mask == 1).all()


def test_paste_call_in_place_writes_the_frame():
    call, frame, crop, mask, out = _paste_args(in_place=True)
    assert call(ptr(frame), ptr(crop), ptr(mask), ptr(out), M, 0) == LAUNCHED  # `out` is ignored in place
    assert frame[10, 10, 0] == 200 and frame[0, 0, 0] == 10 and (out == 17).all()


def test_constructors_refuse_bad_settings():
    img = _core.Image(0, 8, 8, 3, 24, 0, U8)
    with pytest.raises(ValueError, match="unknown mode"):
        _core.WarpCall(img, img, 1, False, 3, 0, (0.0, 0.0, 0.0, 0.0), -1, 192, 192)
    with pytest.raises(ValueError, match="need one matrix"):
        _core.WarpCall(img, img, 2, False, 0, 0, (0.0, 0.0, 0.0, 0.0), -1, 192, 192)
    with pytest.raises(ValueError, match="unknown mode"):
        _core.PasteCall(img, img, img, img, 1, False, -1, False, False, -1, 192, 192, 64)
