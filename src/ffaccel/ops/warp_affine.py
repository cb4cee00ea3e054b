"""``warp_affine`` and ``warp_affine_batch``: cut face crops out of a frame.

Kernel: ``kernels/include/ffaccel/warp_affine.h`` (the per-pixel formula),
``kernels/cpu/warp_affine.cpp``, ``kernels/cuda/warp_affine.cu``,
``kernels/bindings/warp_affine.cpp``. Tests: ``tests/ops/test_warp_affine.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core, _fast

__all__ = ["warp_affine", "warp_affine_batch", "COMPAT_MODES"]

#: ``compat`` values and the kernel mode each selects. ``"opencv"`` (the mode of the
#: installed cv2, see :mod:`ffaccel.opencv_compat`) and the deprecated ``"opencv5"`` (an
#: alias of ``"opencv5.0"``) are resolved to one of these first.
COMPAT_MODES: dict[str | None, int] = {None: 0, "opencv5.0": 1, "opencv4": 2}

_ALLOWED = {np.dtype(np.uint8): (1, 3, 4), np.dtype(np.float32): (1, 3)}


def resolve_compat(compat: Any, stacklevel: int = 3) -> str | None:
    """``compat`` as a key of :data:`COMPAT_MODES`: ``"opencv"`` becomes the installed cv2's mode,
    ``"opencv5"`` becomes ``"opencv5.0"`` with a DeprecationWarning.

    Raises:
        ValueError: unknown value; ffaccel.opencv_compat.OpenCVVersionError (a ValueError)
            for ``"opencv"`` when no mode matches the installed OpenCV.
    """
    if compat is not None and not isinstance(compat, str):  # before any ==: an array would compare elementwise
        raise ValueError(f"compat: expected None, 'opencv', 'opencv4' or 'opencv5.0', got {compat!r}")
    if compat == "opencv":
        from ffaccel.opencv_compat import OpenCVVersionError, opencv_compat_mode

        try:
            return opencv_compat_mode()
        except OpenCVVersionError as exc:  # the message names the argument, as every check's does
            raise OpenCVVersionError(f"compat: {exc}") from None
    if compat == "opencv5":
        warnings.warn("compat='opencv5' is deprecated: it means 'opencv5.0' (OpenCV 5.1 differs); "
                      "pass 'opencv5.0', or 'opencv' to follow the installed cv2", DeprecationWarning,
                      stacklevel=stacklevel)
        return "opencv5.0"
    if isinstance(compat, str) or compat is None:
        if compat in COMPAT_MODES:
            return compat
    raise ValueError(f"compat: expected None, 'opencv', 'opencv4' or 'opencv5.0', got {compat!r}")


def _mode(compat: Any) -> int:
    return COMPAT_MODES[resolve_compat(compat, stacklevel=5)]


class WarpSpec:
    """What the checks of one warp call worked out, reusable for any call of the same
    argument signature (see :mod:`ffaccel._fast`): a ``_core.WarpCall`` holding the image
    geometry, mode, border and device, which takes the rest (pointers, matrices, stream)
    in one call and does the overlap test, the matrix rules and the inversion in C++."""

    __slots__ = ("call", "stream", "alloc")

    def __init__(self, s: _checks.ImageArg, o: _arrays.ArrayView, n: int, batched: bool, mode: int, border: int,
                 bval: tuple[float, float, float, float], shape: tuple[int, ...]) -> None:
        v = s.view
        dt = _core.DType.U8 if v.dtype == np.uint8 else _core.DType.F32
        dh, dw = (shape[1], shape[2]) if batched else (shape[0], shape[1])
        src = _core.Image(0, s.h, s.w, s.c, v.strides[-2] if s.planar else v.strides[-3], 0, dt)
        dst = _core.Image(0, dh, dw, s.c, o.strides[-2] if s.planar else o.strides[-3],
                          o.strides[0] if batched else 0, dt)
        self.call = _core.WarpCall(src, dst, n, batched, mode, border, bval, v.device, v.nbytes, o.nbytes)
        self.stream = _fast.stream_reader(v.kind, v.device)
        self.alloc = _fast.allocator(v.kind, v.device, shape, v.dtype)

    def launch(self, sp: int, op: int, matrices: np.ndarray) -> None:
        """Run the kernel on pointers and matrices the full checks passed."""
        _fast.launched(self.call(sp, op, matrices, self.stream()))

    def fast_call(self, src: Any, matrix: Any, out: Any) -> Any:
        """The call on arrays of this spec's signature, or None where the full checks must run
        (a matrix or an overlap they would refuse); nothing is written before that is known."""
        if type(matrix) is not np.ndarray or matrix.dtype != _fast.F64:
            matrix = _fast.host_matrix(matrix)
            if matrix is None:
                return None
        result = self.alloc() if out is None else out
        if self.call(_fast.ptr(src), _fast.ptr(result), matrix, self.stream()):
            return None
        return result


def _key(src: Any, matrix: Any, dsize: Any, border: Any, border_value: Any, compat: Any, out: Any,
         batched: bool) -> tuple | None:
    """The cache key of a call, or None where the call must take the full checks."""
    if not (type(dsize) is tuple and len(dsize) == 2 and type(dsize[0]) is int and type(dsize[1]) is int
            and type(border) is str and type(border_value) in (int, float) and (compat is None or type(compat) is str)):
        return None
    n = 1
    if batched:
        if type(matrix) is not np.ndarray or matrix.ndim != 3:
            return None
        n = matrix.shape[0]
    # numpy inline (the CPU path's common case), else the general reader
    ss = (np.ndarray, src.shape, src.strides, src.dtype) if type(src) is np.ndarray else _fast.signature(src)
    if ss is None:
        return None
    if out is None:
        os_ = None
    elif type(out) is np.ndarray:
        os_ = (np.ndarray, out.shape, out.strides, out.dtype, out.flags.writeable)
    else:
        os_ = _fast.out_signature(out)
        if os_ is None:
            return None
    return ("warp", batched, n, ss, os_, dsize, border, border_value, compat)


def check(src: Any, matrix: Any, dsize: Any, border: Any, border_value: Any, compat: Any, out: Any,
          batched: bool) -> tuple[WarpSpec, np.ndarray, Any, int, int]:
    """Every check of a warp call: (spec, the matrices as the kernel takes them, result object,
    src pointer, result pointer)."""
    s = _checks.image(src, "src", _ALLOWED)
    m = _checks.affine(matrix, "matrices" if batched else "matrix", batched)
    w, h = _checks.dsize(dsize)
    mode = _mode(compat)
    border_code = _checks.border(border)
    bval = _checks.border_value(border_value, s.view.dtype)
    crop_shape = (h, w) if s.planar else (h, w, s.c)
    shape = (m.shape[0], *crop_shape) if batched else crop_shape
    out_obj, o = _checks.output(out, s.view, shape, s.view.dtype, inputs=[("src", s.view)])
    spec = WarpSpec(s, o, m.shape[0], batched, mode, border_code, bval, shape)
    return spec, m if batched else m[0], out_obj, s.view.ptr, o.ptr


def _run(src: Any, matrix: Any, dsize: Any, border: Any, border_value: Any, compat: Any, out: Any, batched: bool) -> Any:
    key = _key(src, matrix, dsize, border, border_value, compat, out, batched)
    spec = None if key is None else _fast.CACHE.get(key)
    if spec is not None:  # same signature as a call that passed every check: re-check only what can change
        result = spec.fast_call(src, matrix, out)
        if result is not None:
            return result
    spec, m, out_obj, sp, op = check(src, matrix, dsize, border, border_value, compat, out, batched)
    _fast.remember(key, spec)
    spec.launch(sp, op, m)
    return out_obj


def warp_affine(
    src: Any,
    matrix: Any,
    dsize: tuple[int, int],
    *,
    border: str = "replicate",
    border_value: float | tuple[float, ...] = 0,
    compat: str | None = None,
    out: Any = None,
) -> Any:
    """Warp an image through a 2x3 affine matrix with bilinear sampling.

    Args:
        src: (H, W, C) or (H, W) image, C-contiguous. uint8 with 1, 3 or 4 channels,
            or float32 with 1 or 3 channels. A numpy array runs on the CPU; a cupy
            array or torch CUDA tensor runs on its device, on that framework's current
            stream, without synchronising (the call can be captured in a CUDA graph).
        matrix: (2, 3) host array mapping source to destination pixels, OpenCV's
            convention (integer coordinates are pixel centres). It is inverted in
            double precision on the host (in the extension, OpenCV's formula).
        dsize: (width, height) of the result, as in OpenCV.
        border: ``"replicate"`` (clamp each tap) or ``"constant"``.
        border_value: value of pixels outside ``src`` for ``"constant"``: a number or
            one per channel (rounded and saturated for uint8).
        compat: ``None`` (ffaccel's formula: float32, no FMA, round half to even),
            ``"opencv4"`` (byte-identical to ``cv2.warpAffine`` with INTER_LINEAR in
            OpenCV 4.8-4.13: fixed point, 1/32 px coordinates), ``"opencv5.0"``
            (OpenCV 5.0 on x86-64 with AVX2, and 5.1 with ``cv2.ipp.setUseIPP(False)``),
            or ``"opencv"``: the mode of the installed cv2, chosen by
            :func:`ffaccel.opencv_compat.opencv_compat_mode`, which raises a ValueError
            naming the version when none matches (4.14; 5.1 with IPP on).
            ``"opencv5"`` is a deprecated alias of ``"opencv5.0"``. The verified
            releases are listed in docs/ops.md.
        out: optional result buffer of shape (height, width[, C]), same kind, device
            and dtype as ``src``; it must not overlap ``src``.

    Returns:
        The warped image, (height, width[, C]), same dtype and kind as ``src``
        (``out`` itself when given). The CPU and GPU results are the same bytes.

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.
        ffaccel.CudaError: the CUDA runtime failed, or a GPU array was passed to a build
            without CUDA kernels.

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.zeros((1080, 1920, 3), np.uint8)
        >>> M = np.array([[0.5, 0.0, -400.0], [0.0, 0.5, -100.0]])
        >>> ffaccel.warp_affine(frame, M, (512, 512)).shape
        (512, 512, 3)
    """
    return _run(src, matrix, dsize, border, border_value, compat, out, batched=False)


def warp_affine_batch(
    src: Any,
    matrices: Any,
    dsize: tuple[int, int],
    *,
    border: str = "replicate",
    border_value: float | tuple[float, ...] = 0,
    compat: str | None = None,
    out: Any = None,
) -> Any:
    """Warp one image through N matrices in one launch: all face crops of a frame.

    Same arguments and formula as :func:`warp_affine`, with ``matrices`` of shape
    (N, 2, 3); the result is (N, height, width[, C]) and ``result[i]`` equals
    ``warp_affine(src, matrices[i], dsize, ...)`` byte for byte. On the GPU up to 32
    crops go in one kernel launch (more are launched in groups of 32).

    Example:
        >>> import numpy as np, ffaccel
        >>> frame = np.zeros((720, 1280, 3), np.uint8)
        >>> Ms = np.stack([np.array([[1.0, 0, -x], [0, 1.0, -100.0]]) for x in (100.0, 600.0)])
        >>> ffaccel.warp_affine_batch(frame, Ms, (256, 256)).shape
        (2, 256, 256, 3)
    """
    return _run(src, matrices, dsize, border, border_value, compat, out, batched=True)
