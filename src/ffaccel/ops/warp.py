"""``warp_affine`` and ``warp_affine_batch``: cut face crops out of a frame.

Kernel: ``kernels/include/ffaccel/warp_affine.h`` (the per-pixel formula),
``kernels/cpu/warp_affine.cpp``, ``kernels/cuda/warp_affine.cu``,
``kernels/bindings/warp_affine.cpp``. Tests: ``tests/test_warp.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ffaccel import _arrays, _core
from ffaccel.ops import _checks
from ffaccel.ops._matrix import host_matrices, invert_affine

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
    if compat == "opencv":
        from ffaccel.opencv_compat import opencv_compat_mode

        return opencv_compat_mode()
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


def _run(src: Any, matrix: Any, dsize: Any, border: Any, border_value: Any, compat: Any, out: Any, batched: bool) -> Any:
    s = _checks.image(src, "src", _ALLOWED)
    inverse = invert_affine(host_matrices(matrix, "matrices" if batched else "matrix", batched),
                            "matrices" if batched else "matrix")
    w, h = _checks.dsize(dsize)
    mode = _mode(compat)
    border_code = _checks.border(border)
    bval = _checks.border_value(border_value, s.view.dtype)
    crop_shape = (h, w) if s.planar else (h, w, s.c)
    shape = (inverse.shape[0], *crop_shape) if batched else crop_shape
    out_obj, o = _checks.output(out, s, shape, s.view.dtype)
    batch_stride = o.strides[0] if batched else 0
    dst = _core.Image(o.ptr, h, w, s.c, o.strides[-2] if s.planar else o.strides[-3], batch_stride,
                      _core.DType.U8 if s.view.dtype == np.uint8 else _core.DType.F32)
    _core.warp_affine(s.core_image(), dst, inverse, mode, border_code, bval, s.view.device,
                      _arrays.current_stream(s.view))
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
            double precision on the host.
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
