"""Per-frame image metrics: PSNR, sRGB -> CIE Lab (D65), Laplacian variance.

Every function takes numpy arrays (computed on the CPU) or CUDA arrays (cupy, torch
CUDA tensors; computed with cupy on their device, only the scalar result comes back).
Frames are HWC uint8 in BGR order, as OpenCV and FaceFusion hold them.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from ffaccel import _checks, _colorspace
from ffaccel._arrays import as_xp, device_scope, to_host_floats
from ffaccel._colorspace import CIE

__all__ = [
    "bgr_to_lab",
    "laplacian_variance",
    "mean_lab",
    "mse",
    "psnr",
    "psnr_from_mse",
]

# BT.601 luma weights in BGR order (what cv2.COLOR_BGR2GRAY uses).
_GRAY_WEIGHTS_BGR = (0.114, 0.587, 0.299)


def psnr_from_mse(mse_value: float, peak: float = 255.0) -> float:
    """PSNR in dB from a mean squared error: ``10 * log10(peak**2 / mse)``.

    Returns ``math.inf`` when ``mse_value`` is 0 (identical images).

    >>> round(psnr_from_mse(1.0), 4)
    48.1308
    >>> psnr_from_mse(0.0)
    inf
    """
    if not math.isfinite(mse_value) or mse_value < 0:
        raise ValueError(f"mse_value: expected a finite number >= 0, got {mse_value!r}")
    if peak <= 0:
        raise ValueError(f"peak: expected a number > 0, got {peak!r}")
    if mse_value == 0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse_value)


def _sum_squared_difference(xp: ModuleType, a: Any, b: Any) -> Any:
    """Exact sum of squared differences of two uint8 arrays, as a 0-d device array.

    Integer arithmetic throughout (int32 squares, int64 sum), so CPU and GPU agree to
    the bit. No BLAS call: OpenBLAS worker threads spin and starve the video decoder's
    threads on small machines.
    """
    diff = xp.subtract(a, b, dtype=xp.int32)
    return xp.square(diff, out=diff).sum(dtype=xp.int64)


def _check_pair(a: Any, b: Any) -> tuple[Any, Any, ModuleType]:
    a_arr, xp_a = as_xp(a, "a")
    b_arr, xp_b = as_xp(b, "b")
    if xp_a is not xp_b:
        raise ValueError("b: expected an array where a lives (a and b must both be on the host or both on the GPU)")
    for name, arr in (("a", a_arr), ("b", b_arr)):
        if arr.dtype != np.uint8:
            raise TypeError(f"{name}: expected dtype uint8, got {arr.dtype}")
        if arr.size == 0:
            raise ValueError(f"{name}: expected a non-empty array, got shape {tuple(arr.shape)}")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"b: expected shape {a_arr.shape} like a, got {b_arr.shape}")
    return a_arr, b_arr, xp_a


def mse(a: Any, b: Any) -> float:
    """Mean squared error between two uint8 arrays of the same shape (any layout).

    Args:
        a, b: uint8 arrays, e.g. HWC BGR frames (H, W, 3); numpy or CUDA.

    Returns:
        The mean of ``(a - b)**2`` over all elements, in squared code values (0..65025).

    >>> import numpy as np
    >>> mse(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 2, np.uint8))
    4.0
    """
    a_arr, b_arr, xp = _check_pair(a, b)
    with device_scope(a):
        (sse,) = to_host_floats(_sum_squared_difference(xp, a_arr, b_arr).reshape(1))
    return sse / a_arr.size


def psnr(a: Any, b: Any, *, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 arrays of the same shape.

    ``10 * log10(peak**2 / mse(a, b))``; identical inputs give ``math.inf``. The
    result is symmetric in ``a`` and ``b``.

    >>> import numpy as np
    >>> a = np.zeros((4, 4, 3), np.uint8)
    >>> round(psnr(a, a + 1), 2)
    48.13
    >>> psnr(a, a)
    inf
    """
    return psnr_from_mse(mse(a, b), peak)


def _normalised_xyz(xp: ModuleType, bgr: Any) -> Any:
    """(3, N) float32 planes X/Xn, Y/Yn, Z/Zn from an (H, W, 3) BGR image.

    uint8 input is decoded through a 256-entry table (exact); float input (0..1)
    through the sRGB formula. Planar layout keeps the per-channel arithmetic and
    means on contiguous memory; the 3x3 product is written out (no BLAS, whose
    spinning threads would compete with the video decoder).
    """
    planes = bgr.transpose(2, 0, 1)
    if bgr.dtype == np.uint8:
        lut = _colorspace.decode_table()
        linear = xp.take(lut if xp is np else xp.asarray(lut), planes).reshape(3, -1)
    else:
        linear = _colorspace.srgb_to_linear(xp, planes.reshape(3, -1).astype(xp.float64)).astype(xp.float32)
    xyz = xp.empty_like(linear)
    _colorspace.mix(xp, CIE.bgr_to_xyzn, linear, out=xyz)
    return xyz


def _check_colour_image(image: Any, name: str) -> tuple[Any, ModuleType]:
    arr, xp = as_xp(image, name)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"{name}: expected shape (H, W, 3) or (H, W, 4), got {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {tuple(arr.shape)}")
    if arr.dtype not in (np.uint8, np.float32, np.float64):
        raise TypeError(f"{name}: expected dtype uint8 (0..255) or float32/float64 (0..1), got {arr.dtype}")
    return arr[:, :, :3], xp


def bgr_to_lab(image: Any) -> Any:
    """Convert a BGR image to CIE L*a*b* (D65 white, sRGB transfer curve).

    Args:
        image: (H, W, 3) or (H, W, 4) BGR[A]; uint8 0..255, or float32/float64 0..1.
            Alpha is ignored. numpy or CUDA.

    Returns:
        (H, W, 3) float32 array of the input's kind: L in 0..100, a and b unscaled
        (roughly -128..127). Same convention as ``cv2.cvtColor`` on float input.

    >>> import numpy as np
    >>> red = np.array([[[0, 0, 255]]], np.uint8)  # BGR
    >>> [round(float(v), 2) for v in bgr_to_lab(red)[0, 0]]
    [53.24, 80.09, 67.2]
    """
    arr, xp = _check_colour_image(image, "image")
    with device_scope(image):
        f = _colorspace.lab_f(xp, _normalised_xyz(xp, arr), CIE)
        lab = xp.stack(_colorspace.lab_from_f(xp, f, None, CIE), axis=-1)
        return lab.reshape(arr.shape[0], arr.shape[1], 3).astype(xp.float32)


def _mean_lab_device(xp: ModuleType, bgr: Any) -> Any:
    """Mean L, a, b of a BGR image as a (3,) float64 device array.

    L, a and b are linear in f(X), f(Y), f(Z), so averaging the three f planes first
    and combining afterwards gives the same mean with a third of the arithmetic.
    """
    f_mean = _colorspace.lab_f(xp, _normalised_xyz(xp, bgr), CIE).mean(axis=1, dtype=xp.float64)
    return xp.stack(_colorspace.lab_from_f(xp, f_mean, None, CIE))


def mean_lab(image: Any) -> tuple[float, float, float]:
    """Mean CIE L*a*b* (D65) over all pixels of a BGR image.

    Args:
        image: (H, W, 3|4) BGR[A] uint8 (0..255) or float (0..1); numpy or CUDA.

    Returns:
        ``(L, a, b)`` as Python floats; L in 0..100.

    >>> import numpy as np
    >>> [round(v, 3) for v in mean_lab(np.full((2, 2, 3), 255, np.uint8))]
    [100.0, 0.0, 0.0]
    """
    arr, xp = _check_colour_image(image, "image")
    with device_scope(image):
        lab = to_host_floats(_mean_lab_device(xp, arr))
    return (lab[0], lab[1], lab[2])


def _gray_float32(xp: ModuleType, image: Any) -> Any:
    if image.ndim == 2:
        return image.astype(xp.float32)
    wb, wg, wr = _GRAY_WEIGHTS_BGR
    gray = image[:, :, 0].astype(xp.float32) * wb
    gray += image[:, :, 1].astype(xp.float32) * wg
    gray += image[:, :, 2].astype(xp.float32) * wr
    return gray


def _laplacian_variance_device(xp: ModuleType, image: Any) -> Any:
    """Variance of the 4-neighbour Laplacian over the interior, as a 0-d device array."""
    g = _gray_float32(xp, image)
    centre = g[1:-1, 1:-1]
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * centre
    return lap.astype(xp.float64).var()


def laplacian_variance(image: Any) -> float:
    """Edge sharpness: variance of the Laplacian of the luma.

    The luma is ``0.114 B + 0.587 G + 0.299 R`` (BT.601, as ``cv2.COLOR_BGR2GRAY``)
    in float32 without rounding. The Laplacian is the 4-neighbour kernel
    ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (``cv2.Laplacian`` with ``ksize=1``),
    evaluated on interior pixels only so no border rule enters the figure; the
    variance is the population variance (ddof=0). Sharper images score higher;
    blur lowers it, a flat image gives 0.

    Args:
        image: (H, W, 3|4) BGR[A] uint8 frame or (H, W) gray array (uint8 or
            float), at least 3x3; numpy or CUDA.

    Returns:
        The variance in squared luma code values (float).

    >>> import numpy as np
    >>> laplacian_variance(np.zeros((8, 8, 3), np.uint8))
    0.0
    """
    arr, xp = as_xp(image, "image")
    if arr.ndim == 3:
        arr, xp = _checks.xp_image(arr, "image", (np.uint8,), (3, 4), min_side=3)
    elif arr.ndim != 2:
        raise ValueError(f"image: expected shape (H, W, 3|4) or (H, W), got {tuple(arr.shape)}")
    if arr.shape[0] < 3 or arr.shape[1] < 3:
        raise ValueError(f"image: expected at least 3x3 pixels, got {tuple(arr.shape)}")
    if arr.dtype.kind not in "uif":
        raise TypeError(f"image: expected a numeric array, got {arr.dtype}")
    with device_scope(image):
        (value,) = to_host_floats(_laplacian_variance_device(xp, arr).reshape(1))
    return value
