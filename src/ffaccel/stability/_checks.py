"""Argument checks shared by the stability filters.

Every public entry point validates its inputs here so that a wrong shape, a
non-numeric dtype or a NaN raises a ``TypeError``/``ValueError`` naming the
argument, never a numpy broadcasting error three calls deeper.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_points(value: Any, name: str, *, allow_nan: bool = False, n: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 (N, 2) array or raise naming ``name``."""
    arr = _as_float(value, name)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 1, got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} points (the filter was started with {n}), got {arr.shape[0]}")
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def as_float_array(value: Any, name: str, shape: tuple[int | None, ...], *, allow_nan: bool = False) -> np.ndarray:
    """Return ``value`` as float64 with the given shape (None = any size)."""
    arr = _as_float(value, name)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def as_timestamp(value: Any, name: str = "timestamp") -> float | None:
    """Return ``value`` as float seconds, or None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number of seconds or None, got {type(value).__name__}")
    t = float(value)
    if not np.isfinite(t):
        raise ValueError(f"{name} must be finite, got {t}")
    return t


def positive(value: Any, name: str, *, upper: float | None = None, inclusive_upper: bool = True) -> float:
    """Return ``value`` as a float > 0 (and <= or < ``upper``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    if upper is not None and (v > upper or (not inclusive_upper and v == upper)):
        op = "<=" if inclusive_upper else "<"
        raise ValueError(f"{name} must be {op} {upper}, got {value}")
    return v


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_float(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def boxes_from_points(points: np.ndarray) -> np.ndarray:
    """Axis-aligned (x0, y0, x1, y1) of (N, 2) points."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (x0, y0, x1, y1) boxes (0 when both are empty)."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(ix, 0.0) * max(iy, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
