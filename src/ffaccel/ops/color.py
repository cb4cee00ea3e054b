"""Linear-light colour: sRGB transfer curve, per-channel gains, gain estimation.

Kernel: ``kernels/include/ffaccel/color.h`` (the per-element formulas; their numpy copy
and the 50-digit tables, :func:`srgb_tables`, are in ``ffaccel/_colorspace.py``),
``kernels/cpu/color.cpp``, ``kernels/cuda/color.cu``, ``kernels/bindings/color.cpp``.
Tests: ``tests/ops/test_color.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core
from ffaccel._colorspace import srgb_tables

__all__ = [
    "FAST_ERROR_BOUND",
    "apply_color_gain_linear",
    "estimate_color_gains",
    "linear_to_srgb",
    "srgb_tables",
    "srgb_to_linear",
]

#: Largest absolute difference between ``fast=True`` and the exact curve over [0, 1],
#: for either direction (values in 0..1 units). tests/ops/test_color.py measures it.
FAST_ERROR_BOUND = 1e-6

# Kernel modes (ColorMode in color.h).
_U8_TO_LINEAR, _TO_LINEAR, _TO_LINEAR_FAST, _TO_SRGB, _TO_SRGB_FAST, _TO_SRGB_U8 = range(6)
_IMAGE = {np.dtype(np.uint8): (1, 3, 4), np.dtype(np.float32): (1, 3, 4)}
_FLOAT_IMAGE = {np.dtype(np.float32): (1, 3, 4)}
_RGB_U8 = {np.dtype(np.uint8): (3,)}
_MASK = {np.dtype(np.uint8): (1,), np.dtype(np.float32): (1,)}


def _convert(s: _checks.ImageArg, mode: int, out_dtype: np.dtype, out: Any) -> Any:
    out_obj, o = _checks.output(out, s.view, s.view.shape, out_dtype, inputs=[("img", s.view)])
    dst = _core.Image(o.ptr, s.h, s.w, s.c, o.strides[0], 0,
                      _core.DType.U8 if out_dtype == np.uint8 else _core.DType.F32)
    table, bound = srgb_tables()
    _core.color_convert(s.core_image(), dst, mode, table, bound, s.view.device, _arrays.current_stream(s.view))
    return out_obj


def _fast(value: Any) -> bool:
    return _checks.flag(value, "fast")


def srgb_to_linear(img: Any, *, fast: bool = False, out: Any = None) -> Any:
    """sRGB-encoded values to linear light, IEC 61966-2-1.

    ``s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4`` with s in 0..1.

    Args:
        img: (H, W) or (H, W, C) with C in 1, 3, 4, C-contiguous; every element is
            converted (alpha too: drop it first if it must stay). uint8 (codes 0..255,
            s = v / 255) goes through a 256-entry table of the float32 values nearest
            the exact curve. float32 is s itself; values outside 0..1 are clamped and
            NaN becomes 0. numpy runs on the CPU; cupy/torch CUDA arrays on their
            device and current stream, without synchronising.
        fast: float32 only. False: the curve in float64 arithmetic (+, -, *, /), the
            exact value rounded to float32 (rarely 1 ulp off). True: float32
            arithmetic only, for GPUs with slow float64; at most ``FAST_ERROR_BOUND``
            (1e-6) from the exact curve. Ignored for uint8 (the table is exact).
        out: optional float32 result buffer of the input's shape, kind and device.

    Returns:
        float32 linear values in 0..1, shape of ``img``. CPU and GPU give the same bytes.

    Example:
        >>> import numpy as np, ffaccel
        >>> ffaccel.srgb_to_linear(np.array([[0, 128, 255]], np.uint8)).round(4)
        array([[0.    , 0.2159, 1.    ]], dtype=float32)
    """
    fast = _fast(fast)
    s = _checks.image(img, "img", _IMAGE)
    mode = _U8_TO_LINEAR if s.view.dtype == np.uint8 else _TO_LINEAR_FAST if fast else _TO_LINEAR
    return _convert(s, mode, np.dtype(np.float32), out)


def linear_to_srgb(img: Any, *, fast: bool = False, dtype: Any = np.float32, out: Any = None) -> Any:
    """Linear-light values to sRGB encoding, IEC 61966-2-1.

    ``l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055``.

    Args:
        img: float32 (H, W) or (H, W, C) with C in 1, 3, 4, C-contiguous, linear values
            in 0..1; outside is clamped, NaN becomes 0. numpy runs on the CPU; cupy/torch
            CUDA arrays on their device and current stream.
        fast: as in :func:`srgb_to_linear` (float32-only arithmetic, error at most
            ``FAST_ERROR_BOUND``); only for ``dtype=float32``.
        dtype: ``np.float32`` (sRGB values 0..1) or ``np.uint8``: codes
            round(255 * srgb(l)) computed exactly, through thresholds (no float
            rounding of the curve), so ``linear_to_srgb(srgb_to_linear(u8),
            dtype=np.uint8)`` returns ``u8``.
        out: optional result buffer of that dtype, the input's shape, kind and device.

    Returns:
        sRGB values of ``dtype``. CPU and GPU give the same bytes.

    Example:
        >>> import numpy as np, ffaccel
        >>> ffaccel.linear_to_srgb(np.array([0.0, 0.2159, 1.0], np.float32)[None], dtype=np.uint8)
        array([[  0, 128, 255]], dtype=uint8)
    """
    fast = _fast(fast)
    try:
        want = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"dtype: expected np.float32 or np.uint8, got {dtype!r}") from None
    if want not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise TypeError(f"dtype: expected np.float32 or np.uint8, got {dtype!r}")
    if want == np.uint8 and fast:
        raise ValueError("fast: expected False with dtype=np.uint8 (the uint8 output is exact and has no fast variant), got True")
    s = _checks.image(img, "img", _FLOAT_IMAGE)
    mode = _TO_SRGB_U8 if want == np.uint8 else _TO_SRGB_FAST if fast else _TO_SRGB
    return _convert(s, mode, want, out)


def _gains(value: Any) -> tuple[float, float, float]:
    # Past float32's range a gain would become inf, and inf * 0 (black, or mask weight 0) NaN.
    f = _checks.float32_values(value, "gains", (3,), minimum=0.0)
    return (float(f[0]), float(f[1]), float(f[2]))


def _mask(mask: Any, img: _checks.ImageArg) -> _checks.ImageArg:
    """A (H, W) or (H, W, 1) mask on the image's device."""
    m = _checks.image(mask, "mask", _MASK)
    _checks.same_device([("img", img.view), ("mask", m.view)])
    if (m.h, m.w) != (img.h, img.w):
        raise ValueError(f"mask: expected {img.h}x{img.w} pixels like img, got {m.h}x{m.w}")
    return m


def apply_color_gain_linear(img: Any, gains: Any, *, mask: Any = None, out: Any = None) -> Any:
    """Multiply each channel by a gain in linear light: ``srgb(gain * linear(img))``.

    Per pixel and channel c, with ``l = linear(img / 255)`` from the exact table:
    without a mask ``l' = l * gains[c]``; with one, blending in linear light,
    ``l' = l * (1 - a) + (l * gains[c]) * a`` where a is the mask weight (float32
    clamped to 0..1, or uint8 / 255). All in float32. The result is
    ``round(255 * srgb(l'))`` computed exactly (values past 1 saturate to 255), so a
    gain of 1 or a weight of 0 returns the input unchanged.

    Args:
        img: (H, W, 3) uint8, C-contiguous, any channel order (gains follow it).
            numpy runs on the CPU; cupy/torch CUDA arrays on their device and current
            stream, without synchronising.
        gains: 3 numbers >= 0 within float32's range (host sequence or array), used
            as float32.
        mask: optional (H, W) or (H, W, 1) float32 (0..1) or uint8 (0..255) weight,
            on the same device as ``img``.
        out: optional (H, W, 3) uint8 buffer like ``img``, not overlapping it.

    Returns:
        (H, W, 3) uint8, same kind and device as ``img``. CPU and GPU give the same bytes.

    Example:
        >>> import numpy as np, ffaccel
        >>> img = np.full((2, 2, 3), 128, np.uint8)
        >>> ffaccel.apply_color_gain_linear(img, (1.0, 2.0, 0.5))[0, 0]
        array([128, 176,  92], dtype=uint8)
    """
    s = _checks.image(img, "img", _RGB_U8)
    g = _gains(gains)
    inputs = [("img", s.view)]
    if mask is not None:
        m = _mask(mask, s)
        inputs.append(("mask", m.view))
        core_mask = m.core_image()
    else:
        core_mask = _core.Image(0, 0, 0, 0, 0, 0, _core.DType.U8)
    out_obj, o = _checks.output(out, s.view, (s.h, s.w, 3), np.dtype(np.uint8), inputs=inputs)
    dst = _core.Image(o.ptr, s.h, s.w, 3, o.strides[0], 0, _core.DType.U8)
    table, bound = srgb_tables()
    _core.apply_gain(s.core_image(), dst, core_mask, g, table, bound, s.view.device, _arrays.current_stream(s.view))
    return out_obj


def estimate_color_gains(src_crop: Any, ref_crop: Any, mask: Any, *, min_mean: float = 1e-6) -> np.ndarray:
    """Per-channel gains that bring ``src_crop``'s masked mean to ``ref_crop``'s, in linear light.

    ``gains[c] = sum(w * linear(ref[..., c])) / sum(w * linear(src[..., c]))`` with the
    mask weights w (float32 clamped to 0..1, or uint8 / 255), summed in float64.
    Feeding the result to :func:`apply_color_gain_linear` on ``src_crop`` matches the
    masked linear means to the reference's.

    Guards: if the mask has no weight (all zero) the gains are all 1 (no correction);
    a channel whose masked source mean is below ``min_mean`` (black) gets gain 1
    rather than a huge or infinite ratio.

    Args:
        src_crop, ref_crop: (H, W, 3) uint8, same shape, channel order and device.
        mask: (H, W) or (H, W, 1) float32 (0..1; NaN counts as 0) or uint8 (0..255),
            same device. GPU arrays are copied to the host (7 to 10 bytes a pixel,
            which waits for the current stream) and reduced there in the same order
            as host arrays, so CPU and GPU give the same bytes.
        min_mean: the smallest masked linear source mean (0..1) that gets a ratio.

    Returns:
        (3,) float64 numpy array.

    Example:
        >>> import numpy as np, ffaccel
        >>> src = np.full((4, 4, 3), 100, np.uint8); ref = np.full((4, 4, 3), 120, np.uint8)
        >>> ffaccel.estimate_color_gains(src, ref, np.ones((4, 4), np.float32)).round(3)
        array([1.474, 1.474, 1.474])
    """
    s = _checks.image(src_crop, "src_crop", _RGB_U8)
    r = _checks.image(ref_crop, "ref_crop", _RGB_U8)
    m = _checks.image(mask, "mask", _MASK)
    _checks.same_device([("src_crop", s.view), ("ref_crop", r.view), ("mask", m.view)])
    if r.view.shape != s.view.shape:
        raise ValueError(f"ref_crop: expected shape {s.view.shape} like src_crop, got {r.view.shape}")
    if (m.h, m.w) != (s.h, s.w):
        raise ValueError(f"mask: expected {s.h}x{s.w} pixels like src_crop, got {m.h}x{m.w}")
    min_mean = _checks.real(min_mean, "min_mean", lo=0.0, lo_open=True)
    # GPU arrays come to the host (a few bytes per pixel, one wait for the current
    # stream): one summation order for every device, so CPU and GPU give the same bytes.
    src_lin = srgb_to_linear(_arrays.to_numpy(src_crop))
    ref_lin = srgb_to_linear(_arrays.to_numpy(ref_crop))
    w = _arrays.to_numpy(mask).reshape(m.h, m.w).astype(np.float64)
    w = w / 255.0 if m.view.dtype == np.uint8 else np.clip(np.nan_to_num(w, nan=0.0), 0.0, 1.0)
    src_sum, ref_sum = ((lin.astype(np.float64) * w[..., None]).sum(axis=(0, 1)) for lin in (src_lin, ref_lin))
    weight = float(w.sum())
    gains = np.ones(3, np.float64)
    if not weight > 0:
        return gains
    src_mean = src_sum / weight
    ok = src_mean >= min_mean
    gains[ok] = (ref_sum[ok] / weight) / src_mean[ok]
    return gains
