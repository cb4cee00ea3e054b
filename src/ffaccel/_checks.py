"""Every argument check of the package: one module, one message style, raised before any work.

Every failure is a ``TypeError`` (wrong kind of thing) or a ``ValueError`` (right kind,
wrong value) whose message reads ``"name: expected ..., got ..."``. Ops run all their
checks before the first byte is written, so a failed call leaves the caller's arrays
untouched. The rules (docs/api-stability.md, "Errors"):

- arrays: a numpy array, cupy array or torch tensor of real numbers (object, string,
  structured and complex arrays are refused by name), of an allowed dtype, shape and
  channel count, C-contiguous, all on one device;
- outputs (``out=``, ``inplace=True``): writeable (no read-only numpy array, no
  read-only ``np.memmap``, no array over ``bytes``, no torch tensor that requires grad),
  and sharing no byte with any input, except where an op documents ``out`` may *be*
  one of its inputs;
- scalars: real numbers (no bool, str, complex), finite, and within float32's range
  where the kernels compute in float32; Python ints too large for a float are refused;
- landmarks: finite (or NaN rows where an op takes missed frames) and at most
  ``COORD_MAX`` pixels from the origin on each axis;
- matrices: host arrays of real numbers, finite, invertible, and with every entry of
  the matrix and of its inverse at most ``MATRIX_LIMIT`` in magnitude, so every sample
  coordinate the kernels compute in float32 is finite.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ffaccel import _arrays
from ffaccel._arrays import ArrayView

BORDERS = {"replicate": 0, "constant": 1}
#: Largest magnitude of an entry of an affine matrix or of its inverse (2**100): past it a
#: float32 sample coordinate ``a*x + b*y + c`` could overflow for a 65535-pixel image.
MATRIX_LIMIT = 2.0 ** 100
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Largest landmark coordinate, in pixels (each axis): past it float64 holds a face's shape
#: only to 1e-4 px or worse, and the squared distances of a face that large overflow (at
#: about 1e154), which the stabilisers would report as "every point at the same place".
#: The compiled causal core (kernels/bindings/stab_args.h, ``kCoordMax``) uses the same value.
COORD_MAX = 1e12
_ZERO_BORDER = (0.0, 0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- arrays for kernels


@dataclass(frozen=True)
class ImageArg:
    """A validated HWC image argument (2-D input is one channel)."""

    view: ArrayView
    h: int
    w: int
    c: int
    planar: bool  # given as (H, W): results keep that shape

    def core_image(self, batch_stride: int = 0) -> Any:
        from ffaccel import _core  # imported by the op already; importing _checks needs no extension

        v = self.view
        dtype = _core.DType.U8 if v.dtype == np.uint8 else _core.DType.F32
        stride = v.strides[-2] if self.planar else v.strides[-3]
        return _core.Image(v.ptr, self.h, self.w, self.c, stride, batch_stride, dtype)


def _shape_hw(shape: tuple[int, ...], name: str) -> tuple[int, int, int, bool]:
    if len(shape) == 2:
        return shape[0], shape[1], 1, True
    if len(shape) == 3:
        return shape[0], shape[1], shape[2], False
    raise ValueError(f"{name}: expected shape (H, W) or (H, W, C), got {tuple(shape)}")


def image(x: Any, name: str, allowed: dict[np.dtype, tuple[int, ...]]) -> ImageArg:
    """Check an (H, W) or (H, W, C) C-contiguous image of an allowed dtype/channel count."""
    v = _arrays.view(x, name)
    if v.dtype not in allowed:
        raise TypeError(f"{name}: expected dtype {' or '.join(str(d) for d in allowed)}, got {v.dtype}")
    h, w, c, planar = _shape_hw(v.shape, name)
    if c not in allowed[v.dtype]:
        raise ValueError(f"{name}: expected {' or '.join(map(str, allowed[v.dtype]))} channels for {v.dtype}, got {c}")
    if h == 0 or w == 0:
        raise ValueError(f"{name}: expected a non-empty image, got shape {v.shape}")
    if not v.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous (HWC row-major) array, got strides {v.strides}; "
                         "use np.ascontiguousarray")
    return ImageArg(v, h, w, c, planar)


def contiguous(v: ArrayView, name: str) -> None:
    if not v.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous array, got strides {v.strides}")


def writable(v: ArrayView, name: str) -> None:
    """``v`` may be written (an ``out`` buffer, or a frame changed in place)."""
    why = _arrays.writeable(v)
    if why is not None:
        raise ValueError(f"{name}: expected a writeable array, got {why}")


def disjoint(a: tuple[str, ArrayView], b: tuple[str, ArrayView]) -> None:
    """The two arrays share no byte (the message names the first)."""
    if _arrays.overlaps(a[1], b[1]):
        raise ValueError(f"{a[0]}: expected memory apart from {b[0]}, got an array that overlaps it")


def output(out: Any, like: ArrayView, shape: tuple[int, ...], dtype: np.dtype, *,
           inputs: Sequence[tuple[str, ArrayView]] = (), alias: Sequence[str] = (),
           name: str = "out") -> tuple[Any, ArrayView]:
    """The caller's ``out`` checked against the expected result, or a new array.

    ``out`` must match ``like``'s kind and device and the result's shape and dtype, be
    C-contiguous and writeable, and share no byte with any of ``inputs`` -- except that it
    may *be* an input named in ``alias`` (same memory, shape, strides and dtype), for
    element-wise ops that read a pixel's inputs before writing it.
    """
    if out is None:
        obj = _arrays.empty(like, shape, dtype)
        return obj, _arrays.view(obj, name)
    v = _arrays.view(out, name)
    if v.kind != like.kind or v.device != like.device:
        raise ValueError(f"{name}: expected a {like.kind} array in {like.where()} like the input, "
                         f"got a {v.kind} array in {v.where()}")
    if tuple(v.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(v.shape)}")
    if v.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {v.dtype}")
    contiguous(v, name)
    writable(v, name)
    for input_name, iv in inputs:
        if _arrays.overlaps(v, iv) and not (input_name in alias and _arrays.same_array(v, iv)):
            allowed = f" (it may be {input_name} itself)" if input_name in alias else ""
            raise ValueError(f"{name}: expected memory apart from {input_name}{allowed}, got an array that overlaps it")
    return out, v


def same_device(views: Sequence[tuple[str, ArrayView]]) -> None:
    """All arrays on one device and of one kind; the message names the odd one out."""
    first_name, first = views[0]
    for name, v in views[1:]:
        if v.device != first.device or v.kind != first.kind:
            raise ValueError(f"{name}: expected a {first.kind} array in {first.where()} like {first_name}, "
                             f"got a {v.kind} array in {v.where()}")


# --------------------------------------------------------------------------- arrays for array-level code


def xp_image(value: Any, name: str, dtypes: Sequence[Any], channels: Sequence[int] | None,
             min_side: int = 1) -> tuple[Any, ModuleType]:
    """(arr, xp) for an array-level op: (H, W, C) with C in ``channels``, or (H, W) when None."""
    arr, xp = _arrays.as_xp(value, name)
    want = tuple(np.dtype(d) for d in dtypes)
    if arr.dtype not in want:
        raise TypeError(f"{name}: expected dtype {' or '.join(str(d) for d in want)}, got {arr.dtype}")
    if channels is None and arr.ndim != 2:
        raise ValueError(f"{name}: expected shape (H, W), got {tuple(arr.shape)}")
    if channels is not None and (arr.ndim != 3 or arr.shape[2] not in channels):
        raise ValueError(f"{name}: expected shape (H, W, {' or '.join(map(str, channels))}), got {tuple(arr.shape)}")
    if arr.shape[0] < min_side or arr.shape[1] < min_side:
        raise ValueError(f"{name}: expected at least {min_side}x{min_side} pixels, got shape {tuple(arr.shape)}")
    return arr, xp


def same_xp(name: str, xp: ModuleType, other: str, other_xp: ModuleType) -> None:
    if xp is not other_xp:
        raise ValueError(f"{name}: expected an array where {other} lives (host or the same GPU), "
                         f"got one on the {'host' if xp is np else 'GPU'}")


# --------------------------------------------------------------------------- scalars


def operator_index(v: Any) -> int:
    """``int(v)`` for true integers only (no bools, no floats)."""
    if isinstance(v, bool | np.bool_):
        raise TypeError
    return int(operator.index(v))


def integer(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (anything with ``__index__``, not a bool) in ``lo..hi``."""
    try:
        v = operator_index(value)
    except (TypeError, AttributeError):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}") from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if lo is not None and hi is not None else f">= {lo}" if lo is not None else f"<= {hi}"
        raise ValueError(f"{name}: expected an int {rng}, got {value!r}")
    return v


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An int >= ``minimum``."""
    return integer(value, name, lo=minimum)


def real(value: Any, name: str, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
         hi_open: bool = False, float32: bool = False) -> float:
    """A finite real number as a Python float, optionally inside [lo, hi] (ends open on request).

    bool, str, complex and non-numbers raise TypeError; NaN, infinity, ints too large for a
    float, values past float32's range (``float32=True``) and values outside the range
    raise ValueError.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name}: expected a finite number, got an int too large for a float") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if float32 and abs(v) > FLOAT32_MAX:
        raise ValueError(f"{name}: expected a number within float32's range (|x| <= {FLOAT32_MAX:.6g}), got {value!r}")
    below = lo is not None and (v <= lo if lo_open else v < lo)
    above = hi is not None and (v >= hi if hi_open else v > hi)
    if below or above:
        left = "" if lo is None else ("(" if lo_open else "[") + f"{lo:g}"
        right = "" if hi is None else f"{hi:g}" + (")" if hi_open else "]")
        want = f"a number in {left}, {right}" if lo is not None and hi is not None else \
            f"a number {'>' if lo_open else '>='} {lo:g}" if lo is not None else f"a number {'<' if hi_open else '<='} {hi:g}"
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    return v


def positive(value: Any, name: str, *, upper: float | None = None, inclusive_upper: bool = True) -> float:
    """A finite float > 0 (and <= or < ``upper``)."""
    return real(value, name, lo=0.0, lo_open=True, hi=upper, hi_open=not inclusive_upper)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def hashable(value: Any, name: str) -> Hashable:
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"{name}: expected a hashable key, got {type(value).__name__} {value!r}") from None
    return value


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """``value`` if it is one of ``options`` (compared by equality; unhashables refused)."""
    try:
        ok = any(type(value) is type(o) and value == o for o in options)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected one of {tuple(options)}, got {value!r}")
    return value


def timestamp(value: Any, name: str = "timestamp") -> float | None:
    """Float seconds, or None."""
    return None if value is None else real(value, name)


as_timestamp = timestamp


# --------------------------------------------------------------------------- host arrays of numbers


def real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 numpy array of finite-or-not real numbers, read on the host.

    Accepts numbers, (nested) sequences, numpy arrays and host torch tensors (detached).
    GPU arrays are refused (reading them would synchronise); so are bool, str,
    complex and object contents, and Python ints too large for a float.
    """
    if hasattr(value, "__cuda_array_interface__") or getattr(value, "is_cuda", False):
        raise TypeError(f"{name}: expected a host array (numpy or a sequence), got a GPU array; "
                        "reading it would synchronise")
    if _arrays.is_torch_tensor(value):
        value = value.detach().numpy()
    if isinstance(value, str | bytes):
        raise TypeError(f"{name}: expected numbers, got {type(value).__name__} {value!r}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged sequences and the like
        raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__}") from None
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if kind == "O" and arr.size:
        flat = arr.ravel().tolist()
        for x in flat:
            if isinstance(x, bool | np.bool_) or not isinstance(x, int | float | np.integer | np.floating):
                raise TypeError(f"{name}: expected real numbers, got {type(x).__name__} {x!r}")
        try:
            return np.array([float(x) for x in flat], np.float64).reshape(arr.shape)
        except OverflowError:
            raise ValueError(f"{name}: expected finite numbers, got an int too large for a float") from None
    raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")


def as_float_array(value: Any, name: str, shape: tuple[int | None, ...], *, allow_nan: bool = False) -> np.ndarray:
    """``value`` as float64 with the given shape (None = any size); finite unless ``allow_nan``."""
    arr = real_array(value, name)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    return arr


def as_points(value: Any, name: str, *, allow_nan: bool = False, n: int | None = None) -> np.ndarray:
    """``value`` as a float64 (N, 2) array (N >= 1, or exactly ``n``)."""
    arr = real_array(value, name)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"{name}: expected shape (N, 2) with N >= 1, got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} points (the filter was started with {n}), got {arr.shape[0]}")
    if not allow_nan and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    check_coordinates(arr, name)
    return arr


def check_coordinates(arr: np.ndarray, name: str) -> None:
    """Raises ValueError unless every non-NaN value of the float array ``arr`` is within
    +-``COORD_MAX`` (an infinity is not)."""
    big = np.abs(arr) > COORD_MAX  # NaN compares False: missed frames pass here
    if big.any():
        raise ValueError(f"{name}: expected coordinates within +-{COORD_MAX:g} px, got {float(arr[big].flat[0]):g}")


def float32_values(value: Any, name: str, shape: tuple[int, ...], *, minimum: float | None = None) -> np.ndarray:
    """Finite values of ``shape`` within float32's range (and >= ``minimum``), as float32."""
    arr = real_array(value, name)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > FLOAT32_MAX):
        raise ValueError(f"{name}: expected finite float32 values, got {arr.tolist()}")
    if minimum is not None and np.any(arr < minimum):
        raise ValueError(f"{name}: expected values >= {minimum:g}, got {arr.tolist()}")
    return arr.astype(np.float32)


def dsize(value: Any, name: str = "dsize") -> tuple[int, int]:
    """(width, height) as OpenCV takes it; both positive integers up to 65535."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        w, h = value  # the common case, checked without the generic path below
    else:
        if not isinstance(value, Sequence | np.ndarray) or isinstance(value, str) or np.ndim(value) != 1 \
                or len(value) != 2:
            raise TypeError(f"{name}: expected (width, height), got {value!r}")
        try:
            w, h = (operator_index(v) for v in value)
        except (TypeError, AttributeError):
            raise TypeError(f"{name}: expected integer width and height, got {value!r}") from None
    if not (0 < w <= 65535 and 0 < h <= 65535):
        raise ValueError(f"{name}: expected width and height in 1..65535, got {value!r}")
    return w, h


def border(value: Any, name: str = "border") -> int:
    return BORDERS[choice(value, name, tuple(BORDERS))]


def border_value(value: Any, dtype: np.dtype, name: str = "border_value") -> tuple[float, float, float, float]:
    """A number or 1 to 4 per-channel numbers (finite, float32 range); uint8 images round and saturate them."""
    if type(value) is int and value == 0:  # the common default, without numpy
        return _ZERO_BORDER
    arr = real_array(value, name)
    if arr.ndim > 1 or not 1 <= arr.size <= 4:
        raise TypeError(f"{name}: expected a number or 1 to 4 numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > FLOAT32_MAX):
        raise ValueError(f"{name}: expected finite float32 values, got {arr.tolist()}")
    vals = [float(v) for v in arr.ravel()]
    if len(vals) == 1:
        vals = vals * 4
    vals += [0.0] * (4 - len(vals))
    if dtype == np.uint8:
        vals = [min(255.0, max(0.0, float(round(v)))) for v in vals]  # round() is half-to-even
    return (vals[0], vals[1], vals[2], vals[3])


# --------------------------------------------------------------------------- affine matrices


def matrices(matrix: Any, name: str, batched: bool) -> np.ndarray:
    """``matrix`` as a finite float64 array of shape (N, 2, 3) (N = 1 unless ``batched``).

    Matrices are read on the host: a GPU matrix would force a device synchronisation,
    which would break CUDA-graph capture, so it is refused.
    """
    if type(matrix) is np.ndarray and matrix.dtype == np.float64:
        m = matrix
    else:
        m = real_array(matrix, name)
    if batched:
        if m.ndim != 3 or m.shape[1:] != (2, 3):
            raise ValueError(f"{name}: expected shape (N, 2, 3), got {m.shape}")
        if m.shape[0] == 0:
            raise ValueError(f"{name}: expected at least one matrix, got shape {m.shape}")
    elif m.shape != (2, 3):
        raise ValueError(f"{name}: expected shape (2, 3), got {m.shape}")
    else:
        m = m[None]
    return m


def affine(matrix: Any, name: str, batched: bool) -> np.ndarray:
    """:func:`matrices` and the matrix rules of :func:`affine_inverse`, without keeping the
    inverse: the (N, 2, 3) float64 matrices as the kernels take them (they invert in C++)."""
    m = matrices(matrix, name, batched)
    matrix_rules(m, name)
    return m


def affine_inverse(m: np.ndarray, name: str) -> np.ndarray:
    """Inverse maps (N, 6) in double of (N, 2, 3) float64 matrices, after the matrix rules.

    The extension computes them (kernels/include/ffaccel/affine.h, the one copy of the
    formula, OpenCV's warpAffine inverse): for M = [[a, b, c], [d, e, f]], D = 1 / (a*e - b*d),
    [[e*D, -b*D, -(e*D)*c - (-b*D)*f], [-d*D, a*D, -(-d*D)*c - (a*D)*f]].
    Refused (ValueError naming ``name``): NaN or infinity, a zero determinant, or an entry
    of the matrix or of its inverse past ``MATRIX_LIMIT`` in magnitude.
    """
    out = np.empty((m.shape[0], 6), np.float64)
    matrix_rules(m, name, out)
    return out


def matrix_rules(m: np.ndarray, name: str, out: np.ndarray | None = None) -> None:
    """Run the extension's matrix rules on ``m`` (N, 2, 3), inverses into ``out`` if given;
    the first matrix that fails raises its named ValueError."""
    from ffaccel import _core  # imported by the op already; importing _checks needs no extension

    i, fault, det = _core.affine_inverse(m, out)
    if not fault:
        return
    row = m.reshape(-1, 6)[i].tolist()
    if fault == 1:  # NaN and inf propagate through the sum of the entries
        raise ValueError(f"{name}: expected finite values, got NaN or infinity (matrix {i})")
    if fault == 2:
        raise ValueError(f"{name}: expected entries of magnitude <= 2**100, got {row} (matrix {i})")
    if fault == 3:
        raise ValueError(f"{name}: expected an invertible matrix, got determinant {det!r} (matrix {i})")
    raise ValueError(f"{name}: expected a matrix whose inverse has entries of magnitude <= 2**100 "
                     f"(too close to singular), got {row} (matrix {i})")
