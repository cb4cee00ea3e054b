"""Argument checks shared by every op: one message style, raised before any work.

Every failure is a ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong value) whose message starts with the argument's name. All checks run before the
first byte is written, so a failed call leaves the caller's arrays untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffaccel import _arrays, _core
from ffaccel._arrays import ArrayView

BORDERS = {"replicate": 0, "constant": 1}
_U8, _F32 = _core.DType.U8, _core.DType.F32


@dataclass(frozen=True)
class ImageArg:
    """A validated HWC image argument (2-D input is one channel)."""

    view: ArrayView
    h: int
    w: int
    c: int
    planar: bool  # given as (H, W): results keep that shape

    def core_image(self, batch_stride: int = 0) -> Any:
        v = self.view
        dtype = _U8 if v.dtype == np.uint8 else _F32
        stride = v.strides[-2] if self.planar else v.strides[-3]
        return _core.Image(v.ptr, self.h, self.w, self.c, stride, batch_stride, dtype)


def image(x: Any, name: str, allowed: dict[np.dtype, tuple[int, ...]]) -> ImageArg:
    """Check an (H, W) or (H, W, C) C-contiguous image of an allowed dtype/channel count."""
    v = _arrays.view(x, name)
    if v.dtype not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise TypeError(f"{name}: dtype {v.dtype} is not supported (expected one of: {names})")
    if len(v.shape) == 2:
        h, w, c, planar = v.shape[0], v.shape[1], 1, True
    elif len(v.shape) == 3:
        h, w, c, planar = v.shape[0], v.shape[1], v.shape[2], False
    else:
        raise ValueError(f"{name}: expected shape (H, W) or (H, W, C), got {v.shape}")
    if c not in allowed[v.dtype]:
        raise ValueError(f"{name}: {c} channels are not supported for {v.dtype} (expected {allowed[v.dtype]})")
    if h == 0 or w == 0:
        raise ValueError(f"{name}: image is empty (shape {v.shape})")
    if not v.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous (HWC row-major); use np.ascontiguousarray")
    return ImageArg(v, h, w, c, planar)


def dsize(value: Any, name: str = "dsize") -> tuple[int, int]:
    """(width, height) as OpenCV takes it; both positive integers."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        w, h = value  # the common case, checked without the generic path below
    else:
        if not isinstance(value, Sequence | np.ndarray) or len(value) != 2:
            raise TypeError(f"{name}: expected (width, height), got {value!r}")
        try:
            w, h = (operator_index(v) for v in value)
        except (TypeError, AttributeError):
            raise TypeError(f"{name}: width and height must be integers, got {value!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"{name}: width and height must be positive, got {value!r}")
    if w > 65535 or h > 65535:
        raise ValueError(f"{name}: at most 65535 pixels a side, got {value!r}")
    return w, h


def operator_index(v: Any) -> int:
    """``int(v)`` for true integers only (no bools, no floats)."""
    if isinstance(v, bool | np.bool_):
        raise TypeError
    return int(v.__index__())


def border(value: Any, name: str = "border") -> int:
    try:
        return BORDERS[value]
    except (KeyError, TypeError):
        raise ValueError(f"{name}: expected one of {sorted(BORDERS)}, got {value!r}") from None


_ZERO_BORDER = (0.0, 0.0, 0.0, 0.0)


def border_value(value: Any, dtype: np.dtype, name: str = "border_value") -> tuple[float, float, float, float]:
    """A scalar or up to 4 per-channel values; uint8 images round and saturate them."""
    if value == 0 and isinstance(value, int | float):  # the common default, without numpy
        return _ZERO_BORDER
    vals = [value] if np.isscalar(value) else list(value) if isinstance(value, Sequence | np.ndarray) else None
    if vals is None or not 1 <= len(vals) <= 4:
        raise TypeError(f"{name}: expected a number or a sequence of 1 to 4 numbers, got {value!r}")
    try:
        vals = [float(v) for v in vals]
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected numbers, got {value!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name}: values must be finite, got {value!r}")
    if len(vals) == 1:
        vals = vals * 4
    vals += [0.0] * (4 - len(vals))
    if dtype == np.uint8:
        vals = [min(255.0, max(0.0, float(round(v)))) for v in vals]  # round() is half-to-even
    return (vals[0], vals[1], vals[2], vals[3])


def output(out: Any, like: ImageArg, shape: tuple[int, ...], dtype: np.dtype, name: str = "out") -> tuple[Any, ArrayView]:
    """The caller's ``out`` checked against the expected result, or a new array."""
    if out is None:
        obj = _arrays.empty(like.view, shape, dtype)
        return obj, _arrays.view(obj, name)
    v = _arrays.view(out, name)
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError(f"{name}: is read-only")
    if v.kind != like.view.kind or v.device != like.view.device:
        raise ValueError(
            f"{name}: must be a {like.view.kind} array in {like.view.where()} like the input, "
            f"got a {v.kind} array in {v.where()}"
        )
    if v.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {v.shape}")
    if v.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {v.dtype}")
    if not v.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    if _arrays.overlaps(v, like.view):
        raise ValueError(f"{name}: must not share memory with the input")
    return out, v


def same_device(views: Sequence[tuple[str, ArrayView]]) -> None:
    """All arrays on one device and of one kind; the message names the odd one out."""
    first_name, first = views[0]
    for name, v in views[1:]:
        if v.device != first.device or v.kind != first.kind:
            raise ValueError(
                f"{name}: is a {v.kind} array in {v.where()} but {first_name} is a "
                f"{first.kind} array in {first.where()}; all arrays of one call must share a device"
            )
