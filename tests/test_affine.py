"""The affine matrix rules and inversion: kernels/include/ffaccel/affine.h (run by the
extension, worded by ffaccel._checks.affine_inverse) against an independent Python copy.

The extension is the only place the package inverts a matrix; the reference below is the
formula and the rules written out in Python floats, so every accepted matrix must give the
same inverse bytes and every refused one the same message. The extension's per-frame
calls that run the same rules are tested in tests/ops/test_call_status.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffaccel import _checks, _core
from strategies import affine_matrices, examples

LIMIT = 2.0 ** 100


def reference(m: np.ndarray, name: str) -> np.ndarray:
    """OpenCV's warpAffine inverse of (N, 2, 3) matrices and the package's matrix rules."""
    out = np.empty((m.shape[0], 6), np.float64)
    for i, row in enumerate(m.reshape(-1, 6).tolist()):
        a, b, c, d, e, f = row
        if not math.isfinite(a + b + c + d + e + f):
            raise ValueError(f"{name}: expected finite values, got NaN or infinity (matrix {i})")
        if max(abs(a), abs(b), abs(c), abs(d), abs(e), abs(f)) > LIMIT:
            raise ValueError(f"{name}: expected entries of magnitude <= 2**100, got {row} (matrix {i})")
        det = a * e - b * d
        if det == 0.0 or not math.isfinite(det):
            raise ValueError(f"{name}: expected an invertible matrix, got determinant {det!r} (matrix {i})")
        inv_det = 1.0 / det
        a11, a22 = e * inv_det, a * inv_det
        b12, b21 = b * -inv_det, d * -inv_det
        inv = (a11, b12, -a11 * c - b12 * f, b21, a22, -b21 * c - a22 * f)
        if not all(math.isfinite(v) and abs(v) <= LIMIT for v in inv):
            raise ValueError(f"{name}: expected a matrix whose inverse has entries of magnitude <= 2**100 "
                             f"(too close to singular), got {row} (matrix {i})")
        out[i] = inv
    return out


def outcome(fn):
    try:
        return "ok", fn().tobytes()
    except ValueError as exc:
        return "error", str(exc)


# Entries that sit on the rules' edges: zero of both signs, the limit and its neighbours,
# subnormals, the largest double (whose sum overflows), NaN and the infinities.
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-40, 1e-200, 5e-324, LIMIT, -LIMIT, np.nextafter(LIMIT, np.inf),
         np.nextafter(LIMIT, 0), 1e154, 1e300, 1.7976931348623157e308, np.nan, np.inf, -np.inf]
entries = st.one_of(st.sampled_from(EDGES), st.floats(allow_nan=True, allow_infinity=True),
                    st.floats(-1e3, 1e3))


@settings(max_examples=examples(600), deadline=None)
@given(st.lists(st.lists(entries, min_size=6, max_size=6), min_size=1, max_size=4))
def test_rules_and_inverse_match_the_reference(rows):
    m = np.array(rows, np.float64).reshape(-1, 2, 3)
    assert outcome(lambda: _checks.affine_inverse(m, "matrices")) == outcome(lambda: reference(m, "matrices"))


@settings(max_examples=examples(300), deadline=None)
@given(affine_matrices(max_offset=1e4))
def test_face_matrices_invert_to_the_reference_bytes(m):
    np.testing.assert_array_equal(_checks.affine_inverse(m[None], "matrix").view(np.uint64),
                                  reference(m[None], "matrix").view(np.uint64))


def test_limit_is_the_extensions():
    assert _core.MATRIX_LIMIT == _checks.MATRIX_LIMIT == LIMIT


def test_first_bad_matrix_is_named():
    m = np.stack([np.eye(2, 3), np.zeros((2, 3)), np.full((2, 3), np.nan)])
    with pytest.raises(ValueError, match=r"^matrices: expected an invertible matrix, got determinant 0\.0 \(matrix 1\)$"):
        _checks.affine_inverse(m, "matrices")


def test_non_contiguous_and_read_only_matrices():
    """The extension reads any float64 layout the checks pass on (a copy where needed)."""
    m = np.asfortranarray(np.array([[[0.9, 0.1, 2.0], [-0.1, 0.9, 3.0]]]))
    m.flags.writeable = False
    assert not m.flags.c_contiguous
    np.testing.assert_array_equal(_checks.affine_inverse(m, "matrix"), reference(m, "matrix"))
