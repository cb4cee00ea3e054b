"""``composite``: alpha-blend a face over a frame, with seam-band feathering.

Kernel: ``kernels/include/ffaccel/composite.h`` (the per-pixel formula),
``kernels/cpu/composite.cpp``, ``kernels/cuda/composite.cu``,
``kernels/bindings/composite.cpp``. Tests: ``tests/ops/test_composite.py``,
``tests/ops/test_composite_cuda.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffaccel import _arrays, _checks, _core

__all__ = ["DEFAULT_BAND", "DEFAULT_BAND_FEATHER", "composite"]

#: Default seam band, in 0..255 alpha units.
DEFAULT_BAND: tuple[int, int] = (30, 225)
#: Default pull strength inside the band (0 = none, 1 = full smoothstep).
DEFAULT_BAND_FEATHER: float = 0.15

_IMAGE_DTYPES = {np.dtype(np.uint8): (3, 4)}
_ALPHA_DTYPES = {np.dtype(np.uint8): (1,), np.dtype(np.float32): (1,)}


def _band(band: Any) -> tuple[bool, int, int]:
    if band is None:
        return False, 0, 255
    if not isinstance(band, tuple | list | np.ndarray) or np.ndim(band) != 1 or len(band) != 2:
        raise TypeError(f"band: expected None or (band_lo, band_hi), got {band!r}")
    try:
        lo, hi = (_checks.operator_index(v) for v in band)
    except (TypeError, AttributeError):
        raise TypeError(f"band: expected integers band_lo, band_hi in 0..255, got {band!r}") from None
    if not 0 <= lo < hi <= 255:
        raise ValueError(f"band: expected 0 <= band_lo < band_hi <= 255, got {band!r}")
    return True, lo, hi


def _feather(value: Any) -> float:
    f = _checks.real(value, "band_feather", lo=0.0, hi=1.0)
    return float(np.float32(f))  # the kernel computes in float32; say so up front


def _alpha(alpha: Any, h: int, w: int) -> _checks.ImageArg:
    a = _checks.image(alpha, "alpha", _ALPHA_DTYPES)
    if (a.h, a.w) != (h, w):
        raise ValueError(f"alpha: expected shape ({h}, {w}) to match fg, got {a.view.shape}")
    return a


def composite(
    fg: Any,
    bg: Any,
    alpha: Any,
    *,
    band: tuple[int, int] | None = DEFAULT_BAND,
    band_feather: float = DEFAULT_BAND_FEATHER,
    out: Any = None,
) -> Any:
    """Blend ``fg`` over ``bg`` with ``alpha``; inside the seam band alpha is pulled to its nearer edge.

    The formula, per pixel, in float32 with one rounding per operation (the CPU and the
    GPU compute the same bytes)::

        a = alpha                          # uint8 alpha, 0..255
        a = clip(alpha, 0, 1) * 255        # float32 alpha (NaN counts as 0)
        if band is not None and band_lo < a < band_hi:
            t = (a - band_lo) / (band_hi - band_lo)
            s = (t * t) * (3 - 2 * t)                       # smoothstep
            a = band_lo + (band_hi - band_lo) * (t + band_feather * (s - t))
        m = a / 255
        out = round_half_to_even(bg + m * (fg - bg))       # every channel, a 4th one too

    Inside the band the effective alpha moves toward the nearer band edge: a faint
    fringe (alpha just above ``band_lo``) becomes fainter, an almost-solid one more
    solid. At the edges the slope in alpha drops to ``1 - band_feather``, so a one-frame
    wobble of the mask there changes the output less, and no faint halo of the face's
    border pixels flickers in. The remap equals the identity at ``band_lo`` and
    ``band_hi`` (continuous, identity outside the band) and is monotone in alpha
    (its slope is ``1 - band_feather + 6 * band_feather * t * (1 - t) > 0``). The
    largest shift is ``0.0962 * band_feather * (band_hi - band_lo)`` alpha levels, at
    ``t = 0.5 -+ 0.289`` (about 2.8 levels with the defaults). Alpha 0 gives ``bg`` and
    alpha 255 (or 1.0) gives ``fg`` exactly, and the result always lies between them.

    Args:
        fg: (H, W, C) uint8 foreground (the face), C = 3 or 4, C-contiguous. A numpy
            array runs on the CPU; cupy arrays or torch CUDA tensors run on their
            device, on that framework's current stream, without synchronising.
        bg: background (the frame), same shape, dtype and device as ``fg``.
        alpha: (H, W) (or (H, W, 1)) weight of ``fg``: uint8 0..255, or float32 0..1
            (clipped; converted as ``a * 255`` in float32, so a float alpha ``k/255``
            may land one ulp off ``k`` and, rarely, one output level off the uint8 result).
        band: ``(band_lo, band_hi)`` integers with ``0 <= band_lo < band_hi <= 255``
            in 0..255 alpha units, whatever alpha's dtype; ``None`` turns the band
            off (a plain alpha blend).
        band_feather: pull strength in [0, 1] (rounded to float32): 0 is a plain blend,
            1 the full smoothstep.
        out: optional (H, W, C) uint8 result buffer of ``fg``'s kind and device. It may be
            ``fg`` or ``bg`` itself (composite in place); any other overlap with the
            inputs is refused.

    Returns:
        The composite, (H, W, C) uint8, same kind and device as ``fg`` (``out`` when given).

    Raises:
        TypeError, ValueError: bad arguments, named in the message; nothing is written.
        ffaccel.CudaError: the CUDA runtime failed, or a GPU array was passed to a build
            without CUDA kernels.

    Example:
        >>> import numpy as np, ffaccel
        >>> face = np.full((4, 4, 3), 200, np.uint8)
        >>> frame = np.zeros((4, 4, 3), np.uint8)
        >>> alpha = np.array([[0, 30, 60, 255]] * 4, np.uint8)
        >>> ffaccel.composite(face, frame, alpha)[0, :, 0].tolist()
        [0, 24, 45, 200]
        >>> ffaccel.composite(face, frame, alpha, band=None)[0, :, 0].tolist()
        [0, 24, 47, 200]
    """
    f = _checks.image(fg, "fg", _IMAGE_DTYPES)
    b = _checks.image(bg, "bg", _IMAGE_DTYPES)
    if b.view.shape != f.view.shape:
        raise ValueError(f"bg: expected shape {f.view.shape} to match fg, got {b.view.shape}")
    a = _alpha(alpha, f.h, f.w)
    _checks.same_device([("fg", f.view), ("bg", b.view), ("alpha", a.view)])
    band_on, lo, hi = _band(band)
    feather = _feather(band_feather)
    # out may be fg or bg itself (composite in place); any other overlap is refused.
    out_obj, o = _checks.output(out, f.view, f.view.shape, np.dtype(np.uint8),
                                inputs=[("fg", f.view), ("bg", b.view), ("alpha", a.view)], alias=("fg", "bg"))
    dst = _core.Image(o.ptr, f.h, f.w, f.c, o.strides[-3], 0, _core.DType.U8)
    _core.composite(f.core_image(), b.core_image(), a.core_image(), dst, band_on, float(lo), float(hi), feather,
                    f.view.device, _arrays.current_stream(f.view))
    return out_obj
