"""Affine matrices: validation and the double-precision inverse every warp uses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def host_matrices(matrix: Any, name: str, batched: bool) -> np.ndarray:
    """``matrix`` as a float64 array of shape (N, 2, 3) (N = 1 unless ``batched``).

    Matrices are read on the host: a GPU matrix would force a device synchronisation,
    which would break CUDA-graph capture, so it is refused. Finiteness is checked by
    :func:`invert_affine`.
    """
    if type(matrix) is np.ndarray and matrix.dtype == np.float64:
        m = matrix
    else:
        if hasattr(matrix, "__cuda_array_interface__") or getattr(matrix, "is_cuda", False):
            raise TypeError(f"{name}: must be a host array (numpy or a list); reading a GPU matrix would synchronise")
        if type(matrix).__module__.startswith("torch"):
            matrix = matrix.numpy()
        try:
            m = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected a 2x3 array of numbers, got {type(matrix).__name__}") from None
    if batched:
        if m.ndim != 3 or m.shape[1:] != (2, 3):
            raise ValueError(f"{name}: expected shape (N, 2, 3), got {m.shape}")
        if m.shape[0] == 0:
            raise ValueError(f"{name}: needs at least one matrix")
        return m
    if m.shape != (2, 3):
        raise ValueError(f"{name}: expected shape (2, 3), got {m.shape}")
    return m[None]


def invert_affine(m: np.ndarray, name: str) -> np.ndarray:
    """Inverse maps (N, 6) in double, by OpenCV's warpAffine formula.

    For M = [[a, b, c], [d, e, f]]: D = 1 / (a*e - b*d), then
    [[e*D, -b*D, -(e*D)*c - (-b*D)*f], [-d*D, a*D, -(-d*D)*c - (a*D)*f]].
    """
    out = np.empty((m.shape[0], 6), np.float64)
    for i, row in enumerate(m.reshape(-1, 6).tolist()):
        a, b, c, d, e, f = row
        if not math.isfinite(a + b + c + d + e + f):  # NaN and inf propagate through the sum
            raise ValueError(f"{name}: contains NaN or infinity (matrix {i})")
        det = a * e - b * d
        if det == 0.0 or not math.isfinite(det):
            raise ValueError(f"{name}: matrix {i} is singular (determinant {det!r})")
        inv_det = 1.0 / det
        a11, a22 = e * inv_det, a * inv_det
        b12, b21 = b * -inv_det, d * -inv_det
        inv = (a11, b12, -a11 * c - b12 * f, b21, a22, -b21 * c - a22 * f)
        if not math.isfinite(sum(inv)):
            raise ValueError(f"{name}: matrix {i} is too close to singular (inverse not finite)")
        out[i] = inv
    return out

